//! The Lua API: `forkmon.version`, `resumes()`, `configure{}`, `options()`,
//! `checkpoint(...)`, `watch(path)` and `each(...)` (in [`super::each`]). Each function answers `true, value`
//! or `false, message`; `lua/forkmon.lua` turns the latter into a plain Lua
//! error at the caller's line, as a C module's `luaL_error` would. Nothing
//! here can crash the host.

#![forbid(unsafe_code)]

use std::time::Duration;

use std::os::unix::ffi::OsStrExt;

use mlua::prelude::*;

use crate::config::{self, Config};
use crate::engine;
use crate::intercept::gate;
use crate::intercept::shared::SharedV1;
use crate::log::Output;
use crate::paths::AbsolutePath;
use std::ffi::c_int;

const OPTIONS: &str = "filter, quiet, colors, restart_delay, ignore_delay, min_work";

pub type Answer<T> = Result<T, String>;

/// A value's type as Lua's `type()` names it.
pub fn lua_type(value: &LuaValue) -> &'static str {
    match value {
        LuaValue::Integer(_) | LuaValue::Number(_) => "number",
        other => other.type_name(),
    }
}

/// The raw functions, each answering `ok, value-or-message`; `other` is
/// another copy of forkmon that owns the engine, if there is one.
pub fn raw_functions(lua: &Lua, other: Option<&'static SharedV1>) -> LuaResult<LuaTable> {
    let api = lua.create_table()?;
    api.set("version", env!("CARGO_PKG_VERSION"))?;
    api.set(
        "resumes",
        lua.create_function(move |lua, ()| {
            reply(
                lua,
                Ok(other.map_or_else(engine::resume_count, |other| (other.resumes)())),
            )
        })?,
    )?;
    if other.is_none() {
        api.set(
            "clock",
            lua.create_function(|_, ()| Ok(engine::as_alone::program_cpu_time().as_secs_f64()))?,
        )?;
    }
    let owned = move |function: &str| match other {
        Some(_) => fail(function, PRELOADED),
        None => Ok(()),
    };
    api.set(
        "configure",
        lua.create_function(move |lua, options: LuaValue| {
            reply(lua, owned("configure").and_then(|()| configure(options)))
        })?,
    )?;
    api.set(
        "options",
        lua.create_function(move |lua, ()| {
            reply(lua, owned("options").and_then(|()| self::options(lua)))
        })?,
    )?;
    api.set(
        "checkpoint",
        lua.create_function(move |lua, paths: LuaMultiValue| {
            reply(lua, tie("checkpoint", paths, true, other))
        })?,
    )?;
    api.set(
        "watch",
        lua.create_function(move |lua, paths: LuaMultiValue| {
            let answer = if paths.len() > 1 {
                fail(
                    "watch",
                    format!(
                        "takes one path, not {} (checkpoint takes several)",
                        paths.len()
                    ),
                )
            } else {
                tie("watch", paths, false, other)
            };
            reply(lua, answer)
        })?,
    )?;
    api.set(
        "each",
        lua.create_function(move |lua, args: (LuaValue, LuaValue, LuaValue)| {
            let answer = match other {
                Some(_) => fail("each", "another copy of forkmon is preloaded and owns the engine: require the same forkmon.so it preloads"),
                None => super::each::each(lua, args),
            };
            reply(lua, answer)
        })?,
    )?;
    Ok(api)
}

const PRELOADED: &str = "another copy of forkmon is preloaded and owns the options: set them in its environment (FORKMON_*)";

fn reply<T: IntoLua>(lua: &Lua, answer: Answer<T>) -> LuaResult<(bool, LuaValue)> {
    match answer {
        Ok(value) => Ok((true, value.into_lua(lua)?)),
        Err(message) => Ok((false, message.into_lua(lua)?)),
    }
}

pub fn fail<T>(function: &str, message: impl std::fmt::Display) -> Answer<T> {
    Err(format!("forkmon.{function}: {message}"))
}

/// The files named by `paths`, each an existing regular file.
fn files(function: &str, paths: LuaMultiValue) -> Answer<Vec<AbsolutePath>> {
    if paths.is_empty() {
        return fail(
            function,
            "expects the path of a file whose change resumes from here",
        );
    }
    let mut files = Vec::with_capacity(paths.len());
    for (n, value) in paths.iter().enumerate() {
        let LuaValue::String(path) = value else {
            return fail(
                function,
                format!(
                    "argument {} must be a path (a string), not {}",
                    n + 1,
                    lua_type(value)
                ),
            );
        };
        let bytes = path.as_bytes();
        match crate::paths::existing_file(&bytes) {
            // Through a link too: the watcher follows it.
            Some(file)
                if crate::paths::is_kernel_path(file.as_bytes())
                    || std::fs::canonicalize(std::ffi::OsStr::from_bytes(file.as_bytes()))
                        .is_ok_and(|real| {
                            crate::paths::is_kernel_path(real.as_os_str().as_bytes())
                        }) =>
            {
                return fail(
                    function,
                    format!(
                        "'{}' is in /proc, /sys or /dev, whose files change without a write: not watched",
                        shown_argument(&bytes)
                    ),
                );
            }
            Some(file) => files.push(file),
            None => {
                return fail(
                    function,
                    format!("'{}' {}", shown_argument(&bytes), not_a_file(&bytes)),
                );
            }
        }
    }
    Ok(files)
}

/// Why `path` is not a file to watch.
fn not_a_file(path: &[u8]) -> &'static str {
    if path.contains(&0) {
        return "has a NUL byte in it";
    }
    match std::fs::metadata(std::ffi::OsStr::from_bytes(path)) {
        Ok(_) => "is not a regular file",
        Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
            "cannot be looked at (permission denied)"
        }
        Err(_) => "is not an existing file",
    }
}

/// A path the caller gave, as an error shows it: on one line, and cut
/// short if it is long.
fn shown_argument(path: &[u8]) -> String {
    const SHOWN: usize = 200;
    let shown = crate::log::shown(path);
    if shown.chars().count() <= SHOWN {
        return shown.into_owned();
    }
    let start: String = shown.chars().take(SHOWN).collect();
    format!("{start}... ({} bytes)", path.len())
}

/// `checkpoint(path, ...)` and `watch(path)`: true if a file was newly tied.
fn tie(
    function: &str,
    paths: LuaMultiValue,
    here: bool,
    other: Option<&'static SharedV1>,
) -> Answer<bool> {
    let files = files(function, paths)?;
    gate::note_watched_otherwise();
    if let Some(other) = other {
        // One file per call: the first makes the checkpoint (if `here`), the
        // rest attach to it, as engine::tie does.
        let mut tied = false;
        for (n, file) in files.iter().enumerate() {
            let path = file.as_bytes();
            tied |= (other.tie)(path.as_ptr(), path.len(), c_int::from(here && n == 0)) != 0;
        }
        return Ok(tied);
    }
    if !gate::is_on() {
        return Ok(false);
    }
    Ok(engine::tie(&files, here) > 0)
}

fn options(lua: &Lua) -> Answer<LuaTable> {
    let fill = || -> LuaResult<LuaTable> {
        let table = lua.create_table()?;
        if let Some(config) = config::active() {
            table.set("filter", config.filter_spec.as_str())?;
            table.set("quiet", config.output.quiet)?;
            table.set("colors", config.output.colours)?;
            table.set("restart_delay", config.restart_delay.as_millis() as u64)?;
            table.set("ignore_delay", config.ignore_delay.as_millis() as u64)?;
            table.set("min_work", config.min_work.as_millis() as u64)?;
        }
        Ok(table)
    };
    fill().or_else(|error| fail("options", error))
}

/// A delay given as a whole number of ms, checked like the environment's.
fn delay(name: &'static str, value: &LuaValue) -> Answer<Duration> {
    let text = match value {
        LuaValue::Integer(n) => n.to_string(),
        LuaValue::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{n:.0}"),
        LuaValue::Number(n) => n.to_string(),
        LuaValue::String(s) => s.to_string_lossy(),
        other => {
            return fail(
                "configure",
                format!(
                    "{name} must be a number of milliseconds, not {}",
                    lua_type(other)
                ),
            );
        }
    };
    config::parse_delay(name, &text).or_else(|error| fail("configure", error))
}

fn switch(name: &str, value: &LuaValue) -> Answer<bool> {
    match value {
        LuaValue::Boolean(on) => Ok(*on),
        other => fail(
            "configure",
            format!("{name} must be true or false, not {}", lua_type(other)),
        ),
    }
}

/// `configure{filter=..., quiet=..., colors=..., restart_delay=..., ignore_delay=...}`:
/// checked in full before anything changes.
fn configure(options: LuaValue) -> Answer<bool> {
    let LuaValue::Table(options) = options else {
        return fail(
            "configure",
            format!(
                "expects a table of options ({OPTIONS}), not {}",
                lua_type(&options)
            ),
        );
    };
    let Some(current) = config::active() else {
        return fail("configure", "forkmon is off (see the message at start-up)");
    };
    let mut next: Config = current.clone();
    for pair in options.pairs::<LuaValue, LuaValue>() {
        let (key, value) = pair.or_else(|error| fail("configure", error))?;
        let key = match &key {
            LuaValue::String(key) => key.to_string_lossy(),
            other => {
                return fail(
                    "configure",
                    format!("option names are strings, not {}", lua_type(other)),
                );
            }
        };
        match key.as_str() {
            "filter" => {
                let LuaValue::String(spec) = &value else {
                    return fail(
                        "configure",
                        format!(
                            "filter must be a string of Lua patterns, not {}",
                            lua_type(&value)
                        ),
                    );
                };
                let spec = spec
                    .to_str()
                    .map(|s| s.to_owned())
                    .or_else(|_| fail("configure", "filter is not valid UTF-8"))?;
                next.filter = config::parse_filter("filter", &spec)
                    .or_else(|error| fail("configure", error))?;
                next.filter_spec = spec;
            }
            "quiet" => {
                next.output = Output {
                    quiet: switch("quiet", &value)?,
                    ..next.output
                }
            }
            "colors" => {
                next.output = Output {
                    colours: switch("colors", &value)?,
                    ..next.output
                }
            }
            "restart_delay" => next.restart_delay = delay("restart_delay", &value)?,
            "ignore_delay" => next.ignore_delay = delay("ignore_delay", &value)?,
            "min_work" => next.min_work = delay("min_work", &value)?,
            other => {
                return fail(
                    "configure",
                    format!("unknown option '{other}' (options: {OPTIONS})"),
                );
            }
        }
    }
    let delays_changed =
        next.restart_delay != current.restart_delay || next.ignore_delay != current.ignore_delay;
    let output_changed = next.output != current.output;
    if (delays_changed || output_changed) && engine::watcher_started() {
        return fail(
            "configure",
            "quiet, colors, restart_delay and ignore_delay can only change before the first checkpoint",
        );
    }
    crate::log::set_output(next.output);
    config::publish(next);
    Ok(true)
}
