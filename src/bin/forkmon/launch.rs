//! Finds the library and the program, sets the environment and execs.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use forkmon::config;

use crate::args::{Invocation, Target};
use crate::library_file;

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(
        "cannot find forkmon.so (looked next to this command: {0}); give it with --library PATH"
    )]
    NoLibrary(String),
    #[error("cannot use '{path}' (given with {given_by}) as forkmon's library: {reason}")]
    BadLibrary {
        path: String,
        given_by: &'static str,
        reason: &'static str,
    },
    #[error("cannot find the program '{0}' in PATH")]
    NotFound(String),
    #[error("cannot run '{program}'{given_by}: {source}")]
    Exec {
        program: String,
        /// Where the program's name came from, if from a variable.
        given_by: &'static str,
        source: std::io::Error,
    },
}

/// Execs the program; returns only the reason it could not be started.
pub fn exec(invocation: Invocation) -> LaunchError {
    let given_by = match invocation.target {
        Target::Script { .. } if lua_from_environment().is_some() => " (given with FORKMON_LUA)",
        _ => "",
    };
    match prepare(invocation) {
        Ok(mut command) => {
            let program = command.get_program().to_string_lossy().into_owned();
            let source = command.exec();
            LaunchError::Exec {
                program,
                given_by,
                source,
            }
        }
        Err(error) => error,
    }
}

fn prepare(invocation: Invocation) -> Result<Command, LaunchError> {
    let library = find_library(invocation.library)?;
    let start_dir = std::env::current_dir().unwrap_or_default();
    let start_dir = start_dir.as_os_str().as_bytes();
    let (argv, default_filter) = match invocation.target {
        Target::Script { script, args } => {
            let interpreter = lua_interpreter();
            let argv = [vec![interpreter, script], args].concat();
            (argv, config::default_lua_filter(start_dir))
        }
        Target::Program { program, args } => {
            let argv = [program_argv(&program)?, args].concat();
            (argv, config::default_project_filter(start_dir))
        }
    };
    let (program, args) = argv
        .split_first()
        .ok_or(LaunchError::NotFound(String::new()))?;
    let mut command = Command::new(program);
    command.args(args);
    let mut preload = library.into_os_string();
    if let Some(others) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
        preload.push(":");
        preload.push(others);
    }
    command.env("LD_PRELOAD", preload);
    // A forkmon that a program under forkmon starts watches its own
    // program: the outer session's marks stay out.
    for mark in ["FORKMON_FIRST_PID", "FORKMON_OPTIONS_CHECKED"] {
        command.env_remove(mark);
    }
    // -f, then an exported FORKMON_FILTER, then the default.
    let exported = std::env::var_os(config::FILTER).is_some_and(|v| !v.is_empty());
    if !invocation.filter_given && !exported {
        command.env(config::FILTER, default_filter);
        command.env(config::DEFAULT_FILTER, "1");
    } else {
        command.env_remove(config::DEFAULT_FILTER);
    }
    for (variable, value) in invocation.environment {
        command.env(variable, value);
    }
    Ok(command)
}

fn lua_from_environment() -> Option<OsString> {
    std::env::var_os("FORKMON_LUA").filter(|v| !v.is_empty())
}

/// $FORKMON_LUA, else lua5.4, else lua.
fn lua_interpreter() -> OsString {
    if let Some(lua) = lua_from_environment() {
        return lua;
    }
    match search_path(OsStr::new("lua5.4")) {
        Some(_) => "lua5.4".into(),
        None => "lua".into(),
    }
}

/// The library: --library, $FORKMON_LIBRARY, or where `make` and luarocks
/// put it relative to this command.
fn find_library(explicit: Option<PathBuf>) -> Result<PathBuf, LaunchError> {
    let given = match explicit {
        Some(path) => Some((path, "--library")),
        None => std::env::var_os("FORKMON_LIBRARY")
            .filter(|value| !value.is_empty())
            .map(|value| (PathBuf::from(value), "FORKMON_LIBRARY")),
    };
    if let Some((path, given_by)) = given {
        // The loader would only warn and run the program unwatched.
        let bad = |reason| LaunchError::BadLibrary {
            path: path.display().to_string(),
            given_by,
            reason,
        };
        return library_file::check(&path).map_err(bad);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().unwrap_or(Path::new("."));
    let mut candidates = vec![dir.join("forkmon.so"), dir.join("libforkmon.so")];
    // A luarocks tree: <tree>/bin/forkmon and <tree>/lib/lua/<version>/forkmon.so.
    for version in ["5.4", "5.3", "5.2", "5.1"] {
        candidates.push(dir.join("../lib/lua").join(version).join("forkmon.so"));
    }
    let shown = candidates
        .iter()
        .map(|c| c.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    candidates
        .iter()
        .find_map(|c| library_file::is_one(c))
        .ok_or(LaunchError::NoLibrary(shown))
}

fn search_path(program: &OsStr) -> Option<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return Some(PathBuf::from(program));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            fs::metadata(candidate).is_ok_and(|m| {
                m.is_file()
                    && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            })
        })
}

/// The program as found in `PATH`, run as it is: a launcher (`#!/bin/sh`,
/// `#!/usr/bin/env lua`, a luarocks wrapper) gets forkmon, and the program
/// it execs keeps it until its first checkpoint.
fn program_argv(program: &OsStr) -> Result<Vec<OsString>, LaunchError> {
    let path = search_path(program)
        .ok_or_else(|| LaunchError::NotFound(program.to_string_lossy().into_owned()))?;
    Ok(vec![path.into_os_string()])
}
