#!/usr/bin/env bash
# Installs forkmon with luarocks into a temporary tree, then uses what it
# installed: require "forkmon" through `luarocks path`, and the forkmon
# command through a real resume of a Lua app (waiting on its output with a
# deadline, then Ctrl+C to its process group).
set -euo pipefail
cd "$(dirname "$0")/.."
tree=$(mktemp -d)
app=$(mktemp -d)
trap 'rm -rf "$tree" "$app"' EXIT

luarocks --lua-version=5.4 make --tree="$tree" rockspec/forkmon-dev-1.rockspec
eval "$(luarocks --lua-version=5.4 --tree="$tree" path)"
version=$(lua5.4 -e 'io.write(require("forkmon").version)')
echo "require \"forkmon\" from the tree: version $version"

printf 'print("startup")\nrequire "m"\n' > "$app/main.lua"
printf 'print("m=1")\n' > "$app/m.lua"
# setsid in a non-interactive shell does not fork: its pid is the new
# session's and process group's id.
cd "$app"
NO_COLOR=1 setsid "$tree/bin/forkmon" main.lua > out.txt 2>&1 < /dev/null &
group=$!
cd - > /dev/null
wait_for() {
  for _ in $(seq 1500); do
    grep -q "$1" "$app/out.txt" 2>/dev/null && return 0
    sleep 0.02
  done
  echo "waited 30 s for '$1'; output:"; cat "$app/out.txt"; return 1
}
wait_for "waiting for a change"
printf 'print("m=2")\n' > "$app/m.tmp" && mv "$app/m.tmp" "$app/m.lua"
wait_for "m=2"
kill -INT -- "-$group"
cat "$app/out.txt"
echo "the installed forkmon command resumed the app: ok"
