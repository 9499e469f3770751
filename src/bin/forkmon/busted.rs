//! `forkmon busted [busted's options and paths]`: busted's own script, run
//! by its Lua interpreter (`--lua=` if given) with forkmon's busted
//! integration loaded first (`-l forkmon.busted`, from the forkmon module
//! built for that Lua). The first run is the whole suite; each save then
//! runs only the spec files that read the saved file.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use forkmon::config;

use crate::args::{Invocation, Target};
use crate::library_file;

#[derive(Debug, thiserror::Error)]
pub enum BustedError {
    #[error("cannot find busted in PATH")]
    NoBusted,
    #[error("cannot run '{0}' to ask its Lua version")]
    NoLua(String),
    #[error(
        "cannot find the forkmon module built for {version} (looked at: {looked}); build it (make, or make modules, builds target/<lua>/release/forkmon.so for each Lua installed) or give it with FORKMON_MODULE=/path/forkmon.so{hint}"
    )]
    NoModule {
        version: String,
        looked: String,
        /// Another Lua busted can run under, whose module is there.
        hint: String,
    },
    #[error("cannot use '{path}' (given with FORKMON_MODULE) as the forkmon module: {reason}")]
    BadModule { path: String, reason: &'static str },
    #[error("cannot run '{program}': {source}")]
    Exec {
        program: String,
        source: std::io::Error,
    },
}

/// Whether the command is `forkmon [options] busted ...`.
pub fn wanted(invocation: &Invocation) -> bool {
    matches!(&invocation.target, Target::Program { program, .. } if program == "busted")
}

/// Execs busted under forkmon; returns only why it could not.
pub fn exec(invocation: Invocation) -> BustedError {
    match prepare(invocation) {
        Ok(mut command) => {
            let program = command.get_program().to_string_lossy().into_owned();
            let source = command.exec();
            BustedError::Exec { program, source }
        }
        Err(error) => error,
    }
}

fn prepare(invocation: Invocation) -> Result<Command, BustedError> {
    let Target::Program { args, .. } = invocation.target else {
        return Err(BustedError::NoBusted);
    };
    let script = search_path(OsStr::new("busted")).ok_or(BustedError::NoBusted)?;
    // busted's --lua re-runs busted under that Lua through a shell, where
    // forkmon would not follow: the interpreter is started here instead.
    let (lua, mut busted_args) = split_lua_option(args);
    let lua_given = lua.is_some();
    let lua = lua.unwrap_or_else(|| shebang_interpreter(&script));
    if busted_args.iter().all(|a| a != "--ignore-lua") {
        busted_args.insert(0, "--ignore-lua".into());
    }
    let version = lua_version(&lua)?;
    let module = find_module(&version).map_err(|error| match error {
        // busted's own `#!` Lua (Debian's is 5.1 or 5.2) has no module
        // here, but Lua 5.4 has: busted runs under it with --lua.
        BustedError::NoModule {
            version, looked, ..
        } if !lua_given && version != "Lua 5.4" && find_module("5.4").is_ok() => {
            BustedError::NoModule {
                version,
                looked,
                hint: "; or run busted under Lua 5.4, for which it is built: forkmon busted \
                       --lua=lua5.4 ..."
                    .to_owned(),
            }
        }
        other => other,
    })?;
    let mut command = Command::new(&lua);
    command
        .arg("-l")
        .arg("forkmon.busted")
        .arg(&script)
        .args(&busted_args);
    let module_dir = module.parent().unwrap_or(Path::new("/"));
    let mut cpath = OsString::from(module_dir.as_os_str());
    cpath.push("/?.so;");
    cpath.push(std::env::var_os("LUA_CPATH").unwrap_or_else(|| ";".into()));
    command.env("LUA_CPATH", cpath);
    // Every file below the current directory: modules, spec files,
    // fixtures, the helper and .busted.
    let exported = std::env::var_os(config::FILTER).is_some_and(|v| !v.is_empty());
    if !invocation.filter_given && !exported {
        let start_dir = std::env::current_dir().unwrap_or_default();
        command.env(
            config::FILTER,
            config::default_project_filter(start_dir.as_os_str().as_bytes()),
        );
    }
    for (variable, value) in invocation.environment {
        command.env(variable, value);
    }
    Ok(command)
}

/// busted's `--lua=LUA` (or `--lua LUA`), taken out of its arguments.
fn split_lua_option(args: Vec<OsString>) -> (Option<OsString>, Vec<OsString>) {
    let mut lua = None;
    let mut rest = Vec::with_capacity(args.len());
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            rest.push(arg);
            rest.extend(args.by_ref());
            break;
        }
        if let Some(value) = arg.as_bytes().strip_prefix(b"--lua=") {
            lua = Some(OsStr::from_bytes(value).to_os_string());
        } else if arg == "--lua" {
            lua = args.next();
        } else {
            rest.push(arg);
        }
    }
    (lua, rest)
}

/// The interpreter of busted's `#!` line (`#!/usr/bin/env lua`: lua).
fn shebang_interpreter(script: &Path) -> OsString {
    let text = std::fs::read(script).unwrap_or_default();
    let line = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let words: Vec<&[u8]> = line
        .strip_prefix(b"#!")
        .unwrap_or_default()
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    let chosen = match words.as_slice() {
        [env, program, ..] if env.ends_with(b"/env") => *program,
        [interpreter, ..] => *interpreter,
        [] => b"lua",
    };
    OsStr::from_bytes(chosen).to_os_string()
}

/// "5.4", "5.1", or "jit" for LuaJIT.
fn lua_version(lua: &OsStr) -> Result<String, BustedError> {
    let output = Command::new(lua)
        .args([
            "-e",
            "io.write(jit and 'jit' or _VERSION:match('%d+%.%d+'))",
        ])
        .output()
        .map_err(|_| BustedError::NoLua(lua.to_string_lossy().into_owned()))?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() || version.is_empty() {
        return Err(BustedError::NoLua(lua.to_string_lossy().into_owned()));
    }
    Ok(version)
}

/// The forkmon module for that Lua: $FORKMON_MODULE, or where `make`
/// (target/release for 5.4, target/lua51/release...) and luarocks
/// (<tree>/lib/lua/5.1/) put it relative to this command.
fn find_module(version: &str) -> Result<PathBuf, BustedError> {
    if let Some(explicit) = std::env::var_os("FORKMON_MODULE").filter(|v| !v.is_empty()) {
        // Lua's require would search on, and may load another build.
        // As given: its folder goes into LUA_CPATH, where require looks for
        // the name forkmon.so (the file may be a link to libforkmon.so).
        let path = PathBuf::from(explicit);
        return match library_file::check(&path) {
            Ok(_) if path.file_name() != Some(std::ffi::OsStr::new("forkmon.so")) => {
                Err(BustedError::BadModule {
                    path: path.display().to_string(),
                    reason: "its name must be forkmon.so (the name require looks for in its folder)",
                })
            }
            Ok(_) => Ok(path),
            Err(reason) => Err(BustedError::BadModule {
                path: path.display().to_string(),
                reason,
            }),
        };
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().unwrap_or(Path::new("."));
    let feature = match version {
        "jit" => "luajit".to_owned(),
        other => format!("lua{}", other.replace('.', "")),
    };
    let mut candidates = vec![dir.join("..").join(&feature).join("release/forkmon.so")];
    if version != "jit" {
        candidates.push(dir.join("../lib/lua").join(version).join("forkmon.so"));
    }
    if feature == "lua54" {
        candidates.insert(0, dir.join("forkmon.so"));
    }
    candidates
        .iter()
        .find_map(|c| library_file::is_one(c))
        .ok_or_else(|| BustedError::NoModule {
            version: if version == "jit" {
                "LuaJIT".to_owned()
            } else {
                format!("Lua {version}")
            },
            looked: candidates
                .iter()
                .map(|c| c.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            hint: String::new(),
        })
}

fn search_path(program: &OsStr) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn busted_s_lua_option_is_taken_out_in_both_forms() {
        assert_eq!(
            split_lua_option(strings(&["--lua=lua5.4", "-o", "TAP", "spec"])),
            (Some("lua5.4".into()), strings(&["-o", "TAP", "spec"]))
        );
        assert_eq!(
            split_lua_option(strings(&["--lua", "luajit", "spec"])),
            (Some("luajit".into()), strings(&["spec"]))
        );
        assert_eq!(
            split_lua_option(strings(&["spec", "--", "--lua=x"])),
            (None, strings(&["spec", "--", "--lua=x"]))
        );
    }
}
