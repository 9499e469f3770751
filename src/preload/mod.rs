//! The `LD_PRELOAD` way in: the library constructor, which processes get
//! forkmon ([`inheritance`]) and the libc hooks.

mod hooks;
mod inheritance;
mod real;

use std::io::IsTerminal;

use crate::config::{self, Environment};
use crate::intercept::{cwd, gate, guard, nothing_matched};
use crate::{engine, sys};

// SAFETY (of `unsafe` in the attribute): the constructor runs before main
// with the process single-threaded; it catches every panic, reads only the
// environment and its own library's path, and calls no hooked function
// without the bypass guard.
#[ctor::ctor(unsafe)]
fn forkmon_preload_init() {
    let _ = std::panic::catch_unwind(initialise);
}

fn initialise() {
    let Some(_bypass) = guard::Bypass::enter() else {
        return;
    };
    let Some(own_path) = sys::own_library_path() else {
        return;
    };
    if !inheritance::preloaded(&own_path) {
        // Loaded by Lua's require: the Lua module switches forkmon on.
        return;
    }
    if sys::is_secure_execution() {
        // SAFETY: library constructors run before main, while the process
        // has one thread, so nothing reads the environment concurrently.
        unsafe { inheritance::leave() };
        return;
    }
    // Every read of the environment comes before the first write: in bash,
    // which defines its own `setenv` and `getenv`, a `setenv` before its
    // main leaves its `getenv` answering nothing (every option read as
    // unset) until then.
    let process = inheritance::FirstProcess::now();
    let first = process.is_first();
    let mut leave = false;
    // The chdir hooks below are live: the current directory may be kept.
    cwd::trust_copies();
    crate::engine::root_hooked();
    match config::load(&Environment, std::io::stderr().is_terminal(), None) {
        Ok(config) => {
            if inheritance::runs_busted_again_under_another_lua() {
                // Checkpoints here, on busted's own files, would take
                // forkmon out of LD_PRELOAD before the run that matters
                // starts: this process only waits for it.
            } else if gate::switch_on(config) {
                if let Some(script) = inheritance::launcher_script() {
                    gate::set_launcher_script(script);
                }
                engine::at_first_checkpoint(leave_at_checkpoint);
                if let inheritance::FirstProcess::Marked { first: false, .. } = process {
                    engine::refuse_first_checkpoint_if(started_by_a_program);
                }
                if first {
                    nothing_matched::say_at_exit();
                }
            }
        }
        Err((output, errors)) => {
            gate::report_unapplied(output, &errors);
            // Said once: the programs this one starts do not say it again.
            leave = true;
        }
    }
    // Once, though the process the user started may exec another (a
    // launcher's shell, `env`) that loads forkmon again.
    let say_options = first && sys::env_var(inheritance::OPTIONS_CHECKED).is_none();
    if say_options {
        gate::say_misspelled_options();
    }
    if matches!(process, inheritance::FirstProcess::Unmarked) && !leave {
        // SAFETY: as above.
        unsafe { inheritance::mark_first_process() };
    }
    if say_options {
        // SAFETY: as above.
        unsafe { std::env::set_var(inheritance::OPTIONS_CHECKED, "1") };
    }
    if leave {
        // SAFETY: as above.
        unsafe { inheritance::leave() };
    }
}

fn started_by_a_program() -> Option<String> {
    let first = sys::env_var(inheritance::FIRST_PID)?
        .to_str()?
        .parse()
        .ok()?;
    inheritance::started_by_a_program(first)
}

fn leave_at_checkpoint() {
    // SAFETY: the engine calls this before a checkpoint's fork, once it has
    // made sure that the process has one thread.
    unsafe { inheritance::leave() };
}
