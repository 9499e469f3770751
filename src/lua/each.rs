//! `forkmon.each(tasks, run [, options])` from Lua: checks the arguments and
//! gives the engine's runner ([`engine::each`]) the Lua side of the work:
//! listing the tasks, running them in their process, the `after_round` call.

use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::time::Duration;

use mlua::prelude::*;

use crate::engine::each::{self, Host, Options, Status, TaskResult};
use crate::intercept::gate;
use crate::{engine, warn};

use super::api::{Answer, fail, lua_type};

const OPTIONS: &str = "timeout, together, label, after_round, folders";

/// The longest timeout taken (about 31 years): any longer one would
/// overflow the clock's deadline.
const MAX_TIMEOUT_SECONDS: f64 = 1e9;

/// What the caller gave.
struct LuaHost {
    lua: Lua,
    list: Option<LuaFunction>,
    run: LuaFunction,
    after_round: Option<LuaFunction>,
    together: bool,
    label: String,
}

pub fn each(lua: &Lua, (tasks, run, options): (LuaValue, LuaValue, LuaValue)) -> Answer<LuaValue> {
    if engine::in_task() {
        return fail("each", "cannot be called inside a task of forkmon.each");
    }
    let (list, initial) = match tasks {
        LuaValue::Function(list) => {
            let initial = call_list(&list)?;
            (Some(list), initial)
        }
        other => (None, task_list(&other)?),
    };
    let LuaValue::Function(run) = run else {
        return fail(
            "each",
            format!(
                "argument 2 (run) must be a function, not {}",
                lua_type(&run)
            ),
        );
    };
    let mut host = LuaHost {
        lua: lua.clone(),
        list,
        run,
        after_round: None,
        together: false,
        label: "task".to_owned(),
    };
    let options = read_options(options, &mut host)?;
    match crate::sys::procfs::thread_count() {
        Ok(1) => {}
        Ok(threads) => {
            return fail(
                "each",
                format!("the program has {threads} threads and forking it is not safe"),
            );
        }
        Err(error) => {
            return fail(
                "each",
                format!("cannot count the program's threads: {error}"),
            );
        }
    }
    // Each task's process starts with a collected heap: its first
    // collection comes later, and copies fewer of the pages it shares.
    let _ = lua.gc_collect();
    gate::note_watched_otherwise();
    let results = each::run(initial, options, &mut host, gate::is_on());
    results_table(lua, &results)
        .map(LuaValue::Table)
        .or_else(|error| fail("each", error))
}

fn read_options(options: LuaValue, host: &mut LuaHost) -> Answer<Options> {
    let mut read = Options {
        timeout: None,
        together: false,
        label: host.label.clone(),
        folders: Vec::new(),
    };
    let table = match options {
        LuaValue::Nil => return Ok(read),
        LuaValue::Table(table) => table,
        other => {
            return fail(
                "each",
                format!(
                    "argument 3 must be a table of options ({OPTIONS}), not {}",
                    lua_type(&other)
                ),
            );
        }
    };
    for pair in table.pairs::<LuaValue, LuaValue>() {
        let (key, value) = pair.or_else(|error| fail("each", error))?;
        let LuaValue::String(key) = &key else {
            return fail(
                "each",
                format!("option names are strings, not {}", lua_type(&key)),
            );
        };
        match (key.to_string_lossy().as_str(), value) {
            ("timeout", LuaValue::Integer(n)) if n > 0 && n as f64 <= MAX_TIMEOUT_SECONDS => {
                read.timeout = Some(Duration::from_secs(n as u64))
            }
            ("timeout", LuaValue::Number(n)) if n > 0.0 && n <= MAX_TIMEOUT_SECONDS => {
                read.timeout = Some(Duration::from_secs_f64(n))
            }
            ("timeout", other) => {
                return fail(
                    "each",
                    format!(
                        "timeout must be a number of seconds above 0 and at most 1e9, not {}",
                        shown_value(&other)
                    ),
                );
            }
            ("together", LuaValue::Boolean(on)) => read.together = on,
            ("label", LuaValue::String(label)) => read.label = label.to_string_lossy(),
            ("folders", LuaValue::Table(folders)) => read.folders = read_folders(&folders)?,
            ("after_round", LuaValue::Function(after)) => host.after_round = Some(after),
            ("together" | "label" | "after_round" | "folders", other) => {
                return fail(
                    "each",
                    format!(
                        "{} must be {}, not {}",
                        key.to_string_lossy(),
                        match key.to_string_lossy().as_str() {
                            "together" => "true or false",
                            "label" => "a string",
                            "folders" => "a list of folders",
                            _ => "a function",
                        },
                        lua_type(&other)
                    ),
                );
            }
            (other, _) => {
                return fail(
                    "each",
                    format!("unknown option '{other}' (options: {OPTIONS})"),
                );
            }
        }
    }
    host.together = read.together;
    host.label = read.label.clone();
    Ok(read)
}

/// The `folders` option: a list of folders, as absolute paths.
fn read_folders(folders: &LuaTable) -> Answer<Vec<Vec<u8>>> {
    let mut read = Vec::new();
    for value in folders.sequence_values::<LuaValue>() {
        let value = value.or_else(|error| fail("each", error))?;
        let LuaValue::String(folder) = value else {
            return fail(
                "each",
                format!(
                    "folders must be a list of paths, not of {}s",
                    lua_type(&value)
                ),
            );
        };
        let folder = folder.as_bytes();
        match std::fs::canonicalize(std::ffi::OsStr::from_bytes(&folder)) {
            Ok(path) if path.is_dir() => read.push(path.into_os_string().into_vec()),
            _ => {
                return fail(
                    "each",
                    format!("'{}' is not a folder", crate::log::shown(&folder)),
                );
            }
        }
    }
    Ok(read)
}

fn shown_value(value: &LuaValue) -> String {
    match value {
        LuaValue::Integer(n) => n.to_string(),
        // 1e308 as such, not its 309 digits.
        LuaValue::Number(n) if n.abs() >= 1e15 => format!("{n:e}"),
        LuaValue::Number(n) => n.to_string(),
        other => lua_type(other).to_owned(),
    }
}

/// What a Lua error said, without mlua's wrapping; with its traceback
/// only if `traceback`.
fn lua_message(error: &LuaError, traceback: bool) -> String {
    match error {
        LuaError::RuntimeError(message) if !traceback => message
            .split("\nstack traceback:")
            .next()
            .unwrap_or_default()
            .to_owned(),
        LuaError::RuntimeError(message) => message.clone(),
        LuaError::CallbackError { cause, .. } => lua_message(cause, traceback),
        other => other.to_string(),
    }
}

fn call_list(list: &LuaFunction) -> Answer<Vec<Vec<u8>>> {
    let listed: LuaValue = list.call(()).or_else(|error| {
        fail(
            "each",
            format!(
                "the task list function failed: {}",
                lua_message(&error, false)
            ),
        )
    })?;
    task_list(&listed)
}

fn task_list(value: &LuaValue) -> Answer<Vec<Vec<u8>>> {
    let LuaValue::Table(table) = value else {
        return fail(
            "each",
            format!(
                "argument 1 (tasks) must be a list of strings or a function that returns one, not {}",
                lua_type(value)
            ),
        );
    };
    let mut tasks = Vec::new();
    for (n, task) in table.sequence_values::<LuaValue>().enumerate() {
        match task {
            Ok(LuaValue::String(name)) => tasks.push(name.as_bytes().to_vec()),
            Ok(other) => {
                return fail(
                    "each",
                    format!("task {} must be a string, not {}", n + 1, lua_type(&other)),
                );
            }
            Err(error) => return fail("each", error),
        }
    }
    Ok(tasks)
}

fn results_table(lua: &Lua, results: &[TaskResult]) -> LuaResult<LuaTable> {
    let table = lua.create_table()?;
    for result in results {
        let entry = lua.create_table()?;
        entry.set("task", lua.create_string(&result.task)?)?;
        entry.set("status", result.status.name())?;
        if let Status::Failed(code) = result.status {
            entry.set("code", code)?;
        }
        let reads = lua.create_table()?;
        for path in &result.reads {
            reads.push(lua.create_string(path)?)?;
        }
        entry.set("reads", reads)?;
        table.push(entry)?;
    }
    Ok(table)
}

/// The exit status a task's `run` asks for: nothing or true is ok, false
/// failed, a number is the status itself.
fn exit_status(value: &LuaValue) -> i32 {
    match value {
        LuaValue::Nil | LuaValue::Boolean(true) => 0,
        LuaValue::Boolean(false) => 1,
        LuaValue::Integer(n) => (*n).clamp(0, 255) as i32,
        LuaValue::Number(n) if n.is_finite() => n.clamp(0.0, 255.0) as i32,
        _ => 0,
    }
}

impl Host for LuaHost {
    fn list(&mut self) -> Option<Vec<Vec<u8>>> {
        let list = self.list.as_ref()?;
        match call_list(list) {
            Ok(tasks) => Some(tasks),
            Err(error) => {
                warn!("{error}; the list stays as it was");
                None
            }
        }
    }

    fn run(&mut self, batch: &[Vec<u8>]) -> i32 {
        let called = (|| -> LuaResult<LuaValue> {
            if self.together {
                let list = self.lua.create_table()?;
                for name in batch {
                    list.push(self.lua.create_string(name)?)?;
                }
                let reporter = |report: fn(u32) -> each::Report| {
                    let names = batch.to_vec();
                    self.lua.create_function(move |_, task: LuaString| {
                        let task = task.as_bytes();
                        if let Some(index) = names.iter().position(|n| n[..] == task[..]) {
                            engine::report_task(&report(index as u32));
                        }
                        Ok(())
                    })
                };
                let start = reporter(each::Report::Start)?;
                let fail = reporter(each::Report::Failed)?;
                self.run.call((list, start, fail))
            } else {
                let task = batch.first().map(Vec::as_slice).unwrap_or_default();
                self.run.call(self.lua.create_string(task)?)
            }
        })();
        match called {
            Ok(value) => exit_status(&value),
            Err(error) => {
                let task = batch
                    .first()
                    .map(|n| String::from_utf8_lossy(n).into_owned());
                warn!(
                    "{} '{}' failed: {}",
                    self.label,
                    task.unwrap_or_default(),
                    lua_message(&error, true)
                );
                1
            }
        }
    }

    fn after_round(&mut self, results: &[TaskResult]) {
        if let Some(after) = &self.after_round {
            let called = results_table(&self.lua, results).and_then(|t| after.call::<()>(t));
            if let Err(error) = called {
                warn!(
                    "forkmon.each: after_round failed: {}",
                    lua_message(&error, true)
                );
            }
        }
        // See `each`: the next round's processes start from here.
        let _ = self.lua.gc_collect();
    }
}
