//! The process the user started says, when it ends, that nothing matched
//! the filter, if nothing did: a wrong filter, or a program that never
//! reaches forkmon, is not silent. Both ways in ask for it.

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use crate::config;
use crate::info;
use crate::intercept::gate;

static FIRST_PID: AtomicU32 = AtomicU32::new(0);

/// Said at this process's exit, not in the copies it forks.
pub fn say_at_exit() {
    FIRST_PID.store(std::process::id(), Ordering::Relaxed);
    crate::sys::at_exit(at_exit);
}

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
