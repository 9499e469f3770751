//! The `LD_PRELOAD` way in: the library constructor, which processes get
//! forkmon ([`inheritance`]) and the libc hooks.

mod hooks;
mod inheritance;
mod real;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::config::{self, Environment};
use crate::intercept::{cwd, gate, guard};
use crate::{engine, info, sys};

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
    // SAFETY: as above.
    let first = unsafe { inheritance::is_first_process() };
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
                if first {
                    say_at_exit_if_nothing_matched();
                }
            }
        }
        Err((output, errors)) => {
            gate::report_unapplied(output, &errors);
            // Said once: the programs this one starts do not say it again.
            // SAFETY: as above.
            unsafe { inheritance::leave() };
        }
    }
    // Once, though the process the user started may exec another (a
    // launcher's shell, `env`) that loads forkmon again.
    if first && std::env::var_os(inheritance::OPTIONS_CHECKED).is_none() {
        gate::say_misspelled_options();
        // SAFETY: as above.
        unsafe { std::env::set_var(inheritance::OPTIONS_CHECKED, "1") };
    }
}

fn leave_at_checkpoint() {
    // SAFETY: the engine calls this before a checkpoint's fork, once it has
    // made sure that the process has one thread.
    unsafe { inheritance::leave() };
}

static FIRST_PID: AtomicU32 = AtomicU32::new(0);

/// The process the user started says, when it ends (by `exit` or a return
/// from main), that nothing matched the filter, if nothing did: a wrong
/// filter, or a program that never reaches forkmon, is not silent.
fn say_at_exit_if_nothing_matched() {
    FIRST_PID.store(std::process::id(), Ordering::Relaxed);
    extern "C" fn at_exit() {
        let _ = std::panic::catch_unwind(|| {
            if std::process::id() != FIRST_PID.load(Ordering::Relaxed) || gate::any_matched() {
                return;
            }
            if let Some(config) = config::active() {
                info!(
                    "no opened file matched {}='{}'; nothing was watched",
                    config::FILTER,
                    crate::log::one_line(&config.filter_spec)
                );
            }
        });
    }
    // SAFETY: registers a function that lives as long as the process (a
    // preloaded library is never unloaded); it catches its own panics.
    unsafe { libc::atexit(at_exit) };
}
