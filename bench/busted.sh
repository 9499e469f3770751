#!/usr/bin/env bash
# busted's full run of 50 spec files (510 tests) against `forkmon busted`
# after a save, for a light suite and for one whose module under test takes
# 200 ms to load (as a real library or a data set may). Prints the medians
# of a few rounds of each, and their ratios:
# - an edit of one spec file (the 25th): forkmon runs that spec file alone,
#   forked from a runner where busted, the output handler and the module
#   under test are loaded;
# - an edit of the module under test, which every spec file loads: forkmon
#   resumes from the checkpoint where the runner loaded it and runs the 50
#   spec files in one process (they load it once, not 50 times).
# Both busted and forkmon run busted's own script under $LUA (lua5.4).
#   make && bash bench/busted.sh [rounds]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
command="$repo/target/release/forkmon"
lua=${LUA:-lua5.4}
rounds=${1:-7}
project=$(mktemp -d)
trap 'kill -INT -- "-${group:-0}" 2>/dev/null || true; rm -rf "$project"' EXIT

measure() {  # $1: label, $2: ms of work when the module under test loads, $3: full runs
rm -rf "$project"/*
mkdir -p "$project/spec" "$project/src"
module() {  # $1: what f1 adds to x
  { echo "local t = os.clock() while os.clock() - t < $2 / 1000 do end"
    echo "local M = {}"; echo "function M.f1(x) return x + $1 end"
    for i in $(seq 2 300); do echo "function M.f$i(x) return x + $i end"; done; echo "return M"; }
}
# The module under test, required by every spec.
module 1 "$2" > "$project/src/util.lua"
spec() {
  printf 'local util = require "util"\ndescribe("spec %s", function()\n' "$1"
  for t in $(seq 10); do printf '  it("case %s", function() assert.are.equal(%s, util.f%s(0)) end)\n' "$t" "$t" "$t"; done
  printf '  it("tag", function() assert.is_true(%s) end)\nend)\n' "$2"
}
for i in $(seq -w 50); do spec "$i" true > "$project/spec/s${i}_spec.lua"; done

cd "$project"
full=()
for _ in $(seq "$3"); do
  start=${EPOCHREALTIME/./}; "$lua" "$(command -v busted)" --ignore-lua -o plainTerminal spec > /dev/null; full+=($(( (${EPOCHREALTIME/./} - start) / 1000 )))
done

: > out.txt
NO_COLOR=1 setsid "$command" busted --lua="$lua" -o plainTerminal spec > out.txt 2>&1 < /dev/null &
group=$!
# Lines as they come (tail follows with inotify): no polling delay in the
# figures.
coproc LINES { exec tail -n +1 -f out.txt; }
seen=0
rounds_seen=1
wait_rounds $rounds_seen
spec_edit=()
for round in $(seq "$rounds"); do
  spec 25 "$round > 0" > spec/s25.tmp
  start=${EPOCHREALTIME/./}  # (µs; the save is the rename)
  mv spec/s25.tmp spec/s25_spec.lua
  rounds_seen=$((rounds_seen + 1)); wait_rounds $rounds_seen
  spec_edit+=($(( (${EPOCHREALTIME/./} - start) / 1000 )))
done
grep -q "running 1 of 50 spec files: 'spec/s25_spec.lua' (changed)" out.txt || { cat out.txt; exit 1; }
module_edit=()
for round in $(seq "$3"); do
  module "$((round % 2))" "$2" > src/util.tmp
  start=${EPOCHREALTIME/./}
  mv src/util.tmp src/util.lua
  # A resume ends the runner: its next round is a whole suite again.
  rounds_seen=$((rounds_seen + 1)); wait_rounds $rounds_seen
  module_edit+=($(( (${EPOCHREALTIME/./} - start) / 1000 )))
done
kill -INT -- "-$group"; group=0
kill "$LINES_PID" 2>/dev/null || true
cd - > /dev/null
full_ms=$(printf '%s\n' "${full[@]}" | median)
spec_ms=$(printf '%s\n' "${spec_edit[@]}" | median)
module_ms=$(printf '%s\n' "${module_edit[@]}" | median)
echo "$1"
echo "  busted's full run (50 spec files):            ${full_ms} ms (median of $3)"
echo "  forkmon, edit of spec 25 to its results:       ${spec_ms} ms (median of $rounds)"
awk -v a="$full_ms" -v b="$spec_ms" 'BEGIN { printf "    ratio: %.0fx (1/%.0f of a full run)\n", a / b, a / b }'
echo "  forkmon, edit of the module every spec loads: ${module_ms} ms (median of $3; all 50 spec files run)"
awk -v a="$full_ms" -v b="$module_ms" 'BEGIN { printf "    against those 50 spec files alone (busted'"'"'s full run): %.2fx its time\n", b / a }'
}

# Each forkmon round ends with this line.
wait_rounds() {
  while [ "$seen" -lt "$1" ]; do
    IFS= read -r -t 60 line <&"${LINES[0]}" || { cat "$project/out.txt"; exit 1; }
    [[ $line == *"waiting for a change"* ]] && seen=$((seen + 1))
  done
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "busted 2.1.1 under $lua, 50 spec files, 510 tests, $rounds rounds, $(nproc) cores, $(date -u +%F)"
measure "a light suite (the module under test loads at once):" 0 "$rounds"
measure "a module under test that takes 200 ms to load:" 200 3
