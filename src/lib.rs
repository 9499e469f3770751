//! forkmon: resume a program from the checkpoint just before a changed file
//! was read.
//!
//! Layout (the folders are the architecture):
//! - `preload`: the `LD_PRELOAD` way in. Thin `unsafe extern "C"` hooks on
//!   libc's read-opens and the library constructor.
//! - `lua`: the Lua module way in (`luaopen_forkmon` and the API).
//! - `intercept`: what both ways in share: the decision per open, the tie to
//!   the last checkpoint, the current directory, the re-entry guard.
//! - [`engine`]: safe Rust. Decides "checkpoint here?", forks, and runs the
//!   holder loop of a checkpoint process.
//! - [`channel`]: what the program's processes and the watcher share (the
//!   link, the journal, the wire format), used by both sides.
//! - [`watcher`]: the single watcher process. It has one inotify instance,
//!   settles editor saves, and tells the earliest changed checkpoint to resume.
//! - [`config`], [`filter`], [`paths`], [`stamp`], [`log`]: options, the
//!   Lua-pattern matcher, path normalisation, a file's stat and the
//!   `[forkmon]` messages.
//! - `sys`: the small set of raw system calls nix does not wrap, signals and
//!   `/proc`.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod channel;
pub mod config;
pub mod engine;
pub mod filter;
mod intercept;
pub mod log;
mod lua;
pub mod paths;
mod preload;
mod published;
pub mod stamp;
mod sys;
pub mod watcher;

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_is_caught_with_the_unwinder_build_rs_links() {
        // build.rs links libgcc_eh.a in place of libgcc_s (into this test
        // program as into forkmon.so): catch_unwind, which keeps a panic
        // from crossing a hook, must still stop one.
        let caught = std::panic::catch_unwind(|| -> u8 { panic!("inside a hook") });
        assert!(caught.is_err());
    }
}
