//! The `LD_PRELOAD` way in: the library constructor and the libc hooks.

mod hooks;
mod real;

use std::ffi::{OsStr, OsString};
use std::io::IsTerminal;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::config::{self, Environment};
use crate::intercept::{cwd, gate, guard};
use crate::sys;

const PRELOAD: &str = "LD_PRELOAD";

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
    let Some(preload) = std::env::var_os(PRELOAD) else {
        return;
    };
    let (preloaded, others) = without_self(&preload, &own_path);
    if !preloaded {
        // Loaded by Lua's require: the Lua module switches forkmon on.
        return;
    }
    // Programs this one starts must not inherit forkmon.
    if others.is_empty() {
        // SAFETY: library constructors run before main, while the process
        // has one thread, so nothing reads the environment concurrently.
        unsafe { std::env::remove_var(PRELOAD) };
    } else {
        // SAFETY: as above.
        unsafe { std::env::set_var(PRELOAD, others) };
    }
    if sys::is_secure_execution() {
        return;
    }
    // The chdir hooks below are live: the current directory may be kept.
    cwd::trust_copies();
    match config::load(&Environment, std::io::stderr().is_terminal(), None) {
        Ok(config) => drop(gate::switch_on(config)),
        Err((output, errors)) => gate::report_unapplied(output, &errors),
    }
}

/// Splits `LD_PRELOAD` (entries separated by ':' or ' ') into whether it
/// names this library and the other entries, joined again with ':'.
fn without_self(preload: &OsStr, own_path: &Path) -> (bool, OsString) {
    let own = std::fs::metadata(own_path).ok();
    let is_own = |entry: &[u8]| {
        let entry = Path::new(OsStr::from_bytes(entry));
        entry == own_path
            || match (&own, std::fs::metadata(entry)) {
                (Some(own), Ok(other)) => own.dev() == other.dev() && own.ino() == other.ino(),
                _ => false,
            }
    };
    let mut found = false;
    let mut others: Vec<&[u8]> = Vec::new();
    for entry in preload
        .as_bytes()
        .split(|&b| b == b':' || b == b' ')
        .filter(|e| !e.is_empty())
    {
        if is_own(entry) {
            found = true;
        } else {
            others.push(entry);
        }
    }
    (found, OsString::from_vec(others.join(&b':')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_library_leaves_ld_preload() {
        let own = Path::new("/opt/forkmon/forkmon.so");
        let (found, others) = without_self(
            OsStr::new("/usr/lib/a.so /opt/forkmon/forkmon.so:/usr/lib/b.so"),
            own,
        );
        assert!(found);
        assert_eq!(others, OsString::from("/usr/lib/a.so:/usr/lib/b.so"));
        let (found, others) = without_self(OsStr::new("/usr/lib/a.so"), own);
        assert!(!found);
        assert_eq!(others, OsString::from("/usr/lib/a.so"));
    }
}
