//! forkmon: resume a program from the checkpoint just before a changed file
//! was read.
//!
//! Layout (the folders are the architecture):
//! - [`preload`]: the `LD_PRELOAD` way in. Thin `unsafe extern "C"` hooks on
//!   libc's read-opens and the library constructor.
//! - [`engine`]: safe Rust. Decides "checkpoint here?", forks, and runs the
//!   holder loop of a checkpoint process.
//! - [`watcher`]: the single watcher process. It has one inotify instance,
//!   settles editor saves, and tells the earliest changed checkpoint to resume.
//! - [`config`], [`filter`], [`paths`], [`log`]: options, the Lua-pattern
//!   matcher, path normalisation and the `[forkmon]` messages.
//! - `sys`: the small set of raw system calls nix does not wrap.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod config;
pub mod engine;
pub mod filter;
pub mod log;
mod lua;
pub mod paths;
mod preload;
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
