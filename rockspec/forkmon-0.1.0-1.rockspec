-- luarocks --lua-version=5.4 make rockspec/forkmon-0.1.0-1.rockspec [--local | --tree DIR]
-- Builds with cargo (no other rock needed, nothing fetched beyond what cargo
-- already has) for the Lua luarocks targets, and installs forkmon.so into the
-- tree's lib dir and the forkmon command into its bin dir.
rockspec_format = "3.0"
package = "forkmon"
version = "0.1.0-1"
source = {
   url = "git+https://github.com/forkmon/forkmon.git",
   tag = "v0.1.0",
}
description = {
   summary = "Resume a program from just before a changed file was read",
   detailed = [[
forkmon fork()s a checkpoint each time the program opens a watched file; when
that file changes, a fresh child is forked from the checkpoint, so an edit shows
without re-running the start-up before it. A Lua C module (require "forkmon",
lua -l forkmon) and an LD_PRELOAD library in one file, and a forkmon command.]],
   homepage = "https://github.com/forkmon/forkmon",
   license = "MIT",
}
supported_platforms = { "linux" }
dependencies = { "lua >= 5.1, < 5.5" }
build = {
   type = "command",
   -- The cargo feature of the target Lua (lua51..lua54, luajit), asked of
   -- the interpreter luarocks builds for.
   build_command = [[
feature=`'$(LUA)' -e 'io.write(jit and "luajit" or "lua" .. _VERSION:gsub("%D", ""))'` &&
cargo build --release --no-default-features --features "$feature" &&
cp target/release/libforkmon.so forkmon.so &&
cp target/release/forkmon forkmon-command
]],
   install = {
      lib = { forkmon = "forkmon.so" },
      bin = { forkmon = "forkmon-command" },
   },
}
