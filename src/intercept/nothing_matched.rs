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
            let spec = crate::log::one_line(&config.filter_spec);
            // Named as the user gave it: a default (the command's, the Lua
            // module's) or one set with `configure` is no FORKMON_FILTER.
            let exported = crate::sys::env_var(config::FILTER)
                .is_some_and(|value| value.as_encoded_bytes() == config.filter_spec.as_bytes());
            let default = crate::sys::env_var(config::DEFAULT_FILTER).is_some_and(|v| v == "1");
            if exported && !default {
                info!(
                    "no opened file matched {}='{spec}'; nothing was watched",
                    config::FILTER
                );
            } else {
                info!("no opened file matched the filter '{spec}'; nothing was watched");
            }
        }
    });
}
