//! The `LD_PRELOAD` way in: the library constructor, which processes get
//! forkmon ([`inheritance`]) and the libc hooks.

mod hooks;
mod inheritance;
mod real;

use std::io::IsTerminal;

use crate::config::{self, Environment};
use crate::intercept::{cwd, gate, guard};
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
    // The chdir hooks below are live: the current directory may be kept.
    cwd::trust_copies();
    match config::load(&Environment, std::io::stderr().is_terminal(), None) {
        Ok(config) => {
            if gate::switch_on(config) {
                engine::at_first_checkpoint(leave_at_checkpoint);
            }
        }
        Err((output, errors)) => {
            gate::report_unapplied(output, &errors);
            // Said once: the programs this one starts do not say it again.
            // SAFETY: as above.
            unsafe { inheritance::leave() };
        }
    }
}

fn leave_at_checkpoint() {
    // SAFETY: the engine calls this before a checkpoint's fork, once it has
    // made sure that the process has one thread.
    unsafe { inheritance::leave() };
}
