//! Keeps forkmon's own opens (std::fs inside the library, the watcher, the
//! holders) out of its hooks.

#![forbid(unsafe_code)]

use std::cell::Cell;

thread_local! {
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// While alive, hooks on this thread call straight through.
pub struct Bypass(());

impl Bypass {
    /// `None` if this thread is already inside forkmon.
    pub fn enter() -> Option<Bypass> {
        INSIDE.with(|inside| (!inside.replace(true)).then_some(Bypass(())))
    }
}

impl Drop for Bypass {
    fn drop(&mut self) {
        INSIDE.with(|inside| inside.set(false));
    }
}
