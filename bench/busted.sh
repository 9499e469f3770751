#!/usr/bin/env bash
# A full busted run of 50 spec files against forkmon re-running after an edit
# of the 25th, for a light suite and for one whose module under test takes
# 200 ms to load (as a real library or a data set may): prints the medians of
# a few rounds of each.
#   make && bash bench/busted.sh [rounds]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
command="$repo/target/release/forkmon"
rounds=${1:-7}
project=$(mktemp -d)
trap 'kill -INT -- "-${group:-0}" 2>/dev/null || true; rm -rf "$project"' EXIT

measure() {  # $1: label, $2: ms of work when the module under test loads
rm -rf "$project"/*
mkdir -p "$project/spec" "$project/src"
# The module under test, required by every spec.
{ echo "local t = os.clock() while os.clock() - t < $2 / 1000 do end"
  echo "local M = {}"; for i in $(seq 300); do echo "function M.f$i(x) return x + $i end"; done; echo "return M"; } > "$project/src/util.lua"
spec() {
  printf 'local util = require "util"\ndescribe("spec %s", function()\n' "$1"
  for t in $(seq 10); do printf '  it("case %s", function() assert.are.equal(%s, util.f%s(0)) end)\n' "$t" "$t" "$t"; done
  printf '  it("tag", function() assert.is_true(%s) end)\nend)\n' "$2"
}
for i in $(seq -w 50); do spec "$i" true > "$project/spec/s${i}_spec.lua"; done

cd "$project"
full=()
for _ in $(seq "$rounds"); do
  start=$(now); busted -o plainTerminal spec > /dev/null; full+=($(( ($(now) - start) / 1000000 )))
done

NO_COLOR=1 setsid "$command" busted -o plainTerminal spec > out.txt 2>&1 < /dev/null &
group=$!
wait_summaries 1
resumed=()
for round in $(seq "$rounds"); do
  start=$(now)
  spec 25 "$round > 0" > spec/s25.tmp && mv spec/s25.tmp spec/s25_spec.lua
  wait_summaries $((round + 1))
  resumed+=($(( ($(now) - start) / 1000000 )))
done
kill -INT -- "-$group"; group=0
cd - > /dev/null
full_ms=$(printf '%s\n' "${full[@]}" | median)
resumed_ms=$(printf '%s\n' "${resumed[@]}" | median)
echo "$1"
echo "  full busted run:                    ${full_ms} ms (median)"
echo "  forkmon, edit of spec 25 to result:  ${resumed_ms} ms (median; the 4 ms settle window included)"
awk -v a="$full_ms" -v b="$resumed_ms" 'BEGIN { printf "  ratio: %.1fx\n", a / b }'
}

summaries() { grep -c "successes" "$project/out.txt" 2>/dev/null || true; }
wait_summaries() { for _ in $(seq 6000); do [ "$(summaries)" -ge "$1" ] && return 0; sleep 0.005; done; cat "$project/out.txt"; exit 1; }
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "busted, 50 spec files, 510 tests, $rounds rounds, $(nproc) cores, $(date -u +%F)"
measure "a light suite (the module under test loads at once):" 0
measure "a module under test that takes 200 ms to load:" 200
