//! The Lua way in: `require "forkmon"` or `lua -l forkmon app.lua`.
//!
//! The module switches forkmon on (unless the preload library already did:
//! then both share one engine; or another copy of forkmon is preloaded: then
//! this one hands its work over, see [`shared`]) and runs `lua/forkmon.lua`, which hooks
//! `require`, `dofile`, `loadfile`, `io.open` and `io.lines` and returns the
//! API of [`api`] as Lua functions.

mod api;
mod each;

use std::io::IsTerminal;

use mlua::prelude::*;

use crate::config::{self, Environment};
use crate::intercept::{gate, nothing_matched, shared};

const LUA_SIDE: &str = include_str!("../../lua/forkmon.lua");
const BUSTED_SIDE: &str = include_str!("../../lua/forkmon/busted.lua");

#[mlua::lua_module]
fn forkmon(lua: &Lua) -> LuaResult<LuaTable> {
    // A preloaded copy of another build keeps the registry; this one only
    // hooks Lua and hands over.
    let other = shared::other_copy();
    if other.is_none() {
        switch_on();
    }
    let before_read = lua.create_function(move |_, path: LuaString| {
        let path = path.as_bytes();
        match other {
            Some(other) => (other.before_read)(path.as_ptr(), path.len()),
            None => gate::before_lua_open(&path, gate::Access::Read),
        }
        Ok(())
    })?;
    // (A copy that hands over does not pass writes on: its table has no
    // entry for them.)
    let before_write = lua.create_function(move |_, path: LuaString| {
        if other.is_none() {
            gate::before_lua_open(&path.as_bytes(), gate::Access::Write);
        }
        Ok(())
    })?;
    let raw = api::raw_functions(lua, other)?;
    lua.load(LUA_SIDE)
        .set_name("=forkmon")
        .call::<LuaTable>((before_read, before_write, raw))
}

/// `require "forkmon.busted"`: the busted integration, in Lua, found in
/// this same file by Lua's all-in-one C searcher.
#[mlua::lua_module(name = "forkmon_busted")]
fn forkmon_busted(lua: &Lua) -> LuaResult<LuaValue> {
    // A Lua a spec started as its own interpreter was started (`arg[-3] ..
    // " -l forkmon.busted"`): not a session of its own, as under plain
    // busted. (A `lua -l forkmon` the user starts on purpose is one.)
    if started_by_a_watched_program() {
        STARTED_BY_A_SPEC.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    lua.load(BUSTED_SIDE)
        .set_name("@forkmon/busted.lua")
        .call::<LuaValue>(())
}

/// This Lua was started by a spec under `forkmon busted` with
/// `-l forkmon.busted`: forkmon stays off in it.
static STARTED_BY_A_SPEC: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn switch_on() {
    if gate::is_on() || STARTED_BY_A_SPEC.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let start_dir = std::env::current_dir().unwrap_or_default();
    let default = config::default_lua_filter(start_dir.to_string_lossy().as_bytes());
    match config::load(
        &Environment,
        std::io::stderr().is_terminal(),
        Some(&default),
    ) {
        Ok(config) => {
            if gate::switch_on(config) {
                nothing_matched::say_at_exit();
            }
        }
        Err((output, errors)) => gate::report_unapplied(output, &errors),
    }
    gate::say_misspelled_options();
}

/// Whether a program under forkmon started this Lua (see
/// [`config::WATCHED_TREE`]): the tree's first holder is one of its
/// ancestors. (A variable left over from a tree that ended names no
/// ancestor.)
fn started_by_a_watched_program() -> bool {
    let Some(tree) = crate::sys::env_var(config::WATCHED_TREE)
        .and_then(|value| value.to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid > 1)
    else {
        return false;
    };
    crate::sys::procfs::has_ancestor(std::process::id() as i32, tree)
}
