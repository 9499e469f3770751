//! The Lua way in: `require "forkmon"` or `lua -l forkmon app.lua`.
//!
//! The module switches forkmon on (unless the preload library already did:
//! then both share one engine; or another copy of forkmon is preloaded: then
//! this one hands its work over, see [`shared`]) and runs `lua/forkmon.lua`, which hooks
//! `require`, `dofile`, `loadfile`, `io.open` and `io.lines` and returns the
//! API of [`api`] as Lua functions.

mod api;

use std::io::IsTerminal;

use mlua::prelude::*;

use crate::config::{self, Environment};
use crate::preload::{gate, shared};

const LUA_SIDE: &str = include_str!("../../lua/forkmon.lua");

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
            None => gate::before_lua_read(&path),
        }
        Ok(())
    })?;
    let raw = api::raw_functions(lua, other)?;
    lua.load(LUA_SIDE)
        .set_name("=forkmon")
        .call::<LuaTable>((before_read, raw))
}

/// With no FORKMON_FILTER, the module watches the app's own Lua files: those
/// below the directory the program started in, not the installed modules.
pub fn default_filter(start_dir: &[u8]) -> String {
    let mut pattern = String::from("^");
    for &byte in start_dir {
        if b"^$()%.[]*+-?".contains(&byte) {
            pattern.push('%');
        }
        pattern.push(char::from(byte));
    }
    if !pattern.ends_with('/') {
        pattern.push('/');
    }
    pattern.push_str(".*%.lua$");
    pattern
}

fn switch_on() {
    if gate::is_on() {
        return;
    }
    let start_dir = std::env::current_dir().unwrap_or_default();
    let default = default_filter(start_dir.to_string_lossy().as_bytes());
    match config::load(
        &Environment,
        std::io::stderr().is_terminal(),
        Some(&default),
    ) {
        Ok(config) => drop(gate::switch_on(config)),
        Err((output, errors)) => gate::report_unapplied(output, &errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Filter;

    #[test]
    fn the_default_filter_takes_lua_files_below_the_start_directory_only() {
        let pattern = default_filter(b"/home/u/my-app.v2");
        assert_eq!(pattern, "^/home/u/my%-app%.v2/.*%.lua$");
        let filter = Filter::parse(&pattern).expect("valid");
        assert!(
            filter
                .matches(b"/home/u/my-app.v2/src/game.lua")
                .expect("bounded")
        );
        assert!(
            !filter
                .matches(b"/home/u/my-app.v2/data.json")
                .expect("bounded")
        );
        assert!(
            !filter
                .matches(b"/usr/share/lua/5.4/inspect.lua")
                .expect("bounded")
        );
        assert!(!filter.matches(b"/home/u/my-appXv2/a.lua").expect("bounded"));
    }
}
