//! The hooks' question, in safe code: is this open the first read of a
//! watched file? If so, the engine makes the checkpoint.
//!
//! Cheap checks come first (the access mode, whether forkmon is on), and
//! nothing allocates or locks before the path matches the filter.

#![forbid(unsafe_code)]

use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, TryLockError};

use super::Base;
use super::recent::{self, Anchor};
use crate::config::{self, Config};
use crate::engine::Probe;
use crate::paths::{AbsolutePath, OwnedPath, is_kernel_path};
use crate::stamp::FileStamp;
use crate::{engine, sys, warn};

static BUDGET_WARNED: AtomicBool = AtomicBool::new(false);
static UNRESOLVED_WARNED: AtomicBool = AtomicBool::new(false);
static ANY_MATCHED: AtomicBool = AtomicBool::new(false);

/// The buffer the gate builds paths in. A new one is 4 KiB of zeros: a
/// `memset` per watched file read, which cost as many instructions as the
/// rest of the gate. Another thread in the gate meanwhile builds in a
/// buffer of its own.
static SCRATCH: Mutex<AbsolutePath> = Mutex::new(AbsolutePath::empty());

fn with_scratch<R>(action: impl FnOnce(&mut AbsolutePath) -> R) -> R {
    match SCRATCH.try_lock() {
        Ok(mut scratch) => action(&mut scratch),
        // A panic caught at a hook boundary left it as good as any buffer:
        // every use writes the path before reading it.
        Err(TryLockError::Poisoned(poisoned)) => action(&mut poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => action(&mut AbsolutePath::empty()),
    }
}

/// The script a shell of this process runs (see [`set_launcher_script`]).
static LAUNCHER_SCRIPT: OnceLock<OwnedPath> = OnceLock::new();

/// This process is a shell running the script `path` (a launcher): its read
/// of that script makes no checkpoint, which would take forkmon out of
/// `LD_PRELOAD` before the launcher execs the program.
pub fn set_launcher_script(path: OwnedPath) {
    let _ = LAUNCHER_SCRIPT.set(path);
}

/// Files are watched though the filter matched none (the Lua API's
/// `watch` and `checkpoint`, `forkmon.each`'s tasks): nothing to say of it.
pub fn note_watched_otherwise() {
    ANY_MATCHED.store(true, Ordering::Relaxed);
}

/// Whether any path this process opened matched the filter, or may have
/// (the filter ran out of its budget on one: said already).
pub fn any_matched() -> bool {
    ANY_MATCHED.load(Ordering::Relaxed)
        || BUDGET_WARNED.load(Ordering::Relaxed)
        || UNRESOLVED_WARNED.load(Ordering::Relaxed)
}

/// Turns forkmon on with `config`, unless a way in already did (then the
/// first one's options stay: one registry, one set of options).
pub fn switch_on(config: Config) -> bool {
    if config::active().is_some() {
        return false;
    }
    let config = config::publish(config);
    crate::log::set_output(config.output);
    sys::original_stderr::keep();
    engine::start();
    true
}

/// Says each environment variable that looks like a misspelled option
/// (`FORKMON_FILTR`): it would be ignored without a word.
pub fn say_misspelled_options() {
    let names: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .collect();
    for (name, option) in config::misspelled_options(names.iter().map(String::as_str)) {
        warn!("{name} is not an option of forkmon and is ignored: did you mean {option}?");
    }
}

/// Says each option that could not be applied; forkmon stays off. Said
/// even when quiet: a setting the user made was not applied.
pub fn report_unapplied(output: crate::log::Output, errors: &[config::ConfigError]) {
    crate::log::set_output(crate::log::Output {
        quiet: false,
        ..output
    });
    for error in errors {
        warn!("{error}; forkmon is off and the program runs unwatched");
    }
    crate::log::set_output(output);
}

/// Whether forkmon is on (a single atomic load, for the hot path).
pub fn is_on() -> bool {
    config::active().is_some()
}

/// What an open does to the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Only reads it: may make a checkpoint.
    Read,
    /// May change it: if the program writes a watched file itself, that is
    /// no edit to resume for.
    Write,
}

/// What an open(2) with `flags` does: `None` for a directory or a path
/// handle.
pub fn flags_access(flags: i32) -> Option<Access> {
    if reads_only(flags) {
        Some(Access::Read)
    } else if flags & (libc::O_DIRECTORY | libc::O_PATH) != 0 {
        None
    } else {
        Some(Access::Write)
    }
}

/// What an fopen(3) with `mode` does.
pub fn mode_access(mode: &[u8]) -> Access {
    if mode_reads_only(mode) {
        Access::Read
    } else {
        Access::Write
    }
}

/// Whether `flags` of open(2) only read an existing file.
pub fn reads_only(flags: i32) -> bool {
    flags & libc::O_ACCMODE == libc::O_RDONLY
        && flags & (libc::O_DIRECTORY | libc::O_PATH | libc::O_TRUNC | libc::O_TMPFILE) == 0
}

/// Whether an fopen(3) mode only reads: it starts with 'r' and has no '+'.
pub fn mode_reads_only(mode: &[u8]) -> bool {
    let flags = mode.split(|&b| b == b',').next().unwrap_or_default();
    flags.first() == Some(&b'r') && !flags.contains(&b'+')
}

/// A watched file read for the first time, after a checkpoint made not long
/// ago: it is tied to that checkpoint once the open has succeeded (which
/// tells that it exists and can be read), with the opened file's stamp.
pub struct TieAfterOpen {
    path: OwnedPath,
    /// What the program's path was relative to, when it can be told.
    anchor: Option<Anchor>,
    /// Whether the opened file's stamp is needed (see
    /// [`engine::TieAfterOpen`]).
    needs_stamp: bool,
}

/// Called by every hook before the real open, with the path as given.
pub fn before_open(base: Base, path: &[u8], access: Access) -> Option<TieAfterOpen> {
    if path.is_empty() {
        return None;
    }
    let config = config::active()?;
    // Most opens are of files no pattern could match by their name alone:
    // they pass by before any path is built.
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or_default();
    // A write may make a name in a directory the program listed, whatever
    // the filter says of the name (see `engine::before_write`).
    let may_add_to_a_listing = access == Access::Write && engine::listing_tied();
    if !matches!(name, b"" | b"." | b"..")
        && !may_add_to_a_listing
        && config.filter.cannot_match_name(name)
    {
        return None;
    }
    let anchor = Anchor::of(base, path);
    if access == Access::Read && anchor.is_some_and(|anchor| recent::was_tied(path, anchor)) {
        return None;
    }
    with_scratch(|absolute| consider_absolute(absolute, base, path, access, anchor, config))
}

/// [`before_open`] for a path that may match, built in `absolute`.
fn consider_absolute(
    absolute: &mut AbsolutePath,
    base: Base,
    path: &[u8],
    access: Access,
    anchor: Option<Anchor>,
    config: &Config,
) -> Option<TieAfterOpen> {
    if !resolve(absolute, base, path) {
        // Not silently: the filter may well have matched it. (A directory
        // descriptor the program got wrong is its own error to see.)
        let name = path.rsplit(|&b| b == b'/').next().unwrap_or_default();
        let named_file = !matches!(name, b"" | b"." | b"..");
        let from_a_descriptor = matches!(base, Base::Directory(fd) if fd != libc::AT_FDCWD);
        if access == Access::Read
            && named_file
            && !from_a_descriptor
            && !UNRESOLVED_WARNED.swap(true, Ordering::Relaxed)
        {
            warn!(
                "cannot tell the full path of '{}' (its folder is gone, or the path is longer \
                 than {} bytes): such files are not watched (said once)",
                crate::log::shown(path),
                libc::PATH_MAX
            );
        }
        return None;
    }
    if is_kernel_path(absolute.as_bytes()) {
        return None;
    }
    let matched = matches_filter(absolute, config);
    if access == Access::Write {
        // An unmatched write takes no lock unless it may add to a listing.
        if matched || engine::listing_tied() {
            engine::before_write(absolute, matched);
        }
        return None;
    }
    if !matched {
        return None;
    }
    // Only the path's bytes are kept: moving the 4 KiB buffer into a box
    // was a third of a tied open's cost. A file looked for and not found
    // is watched too (see `after_open`): the open is followed when it may
    // fail so.
    let mut missing = false;
    let tie_after = engine::before_read(absolute, |path| {
        let found = probe(path.as_c_str());
        missing = found == Probe::Missing;
        found
    });
    (tie_after.is_some() || missing).then(|| TieAfterOpen {
        path: absolute.to_owned_path(),
        anchor,
        needs_stamp: tie_after.is_none_or(|tie| tie.needs_stamp),
    })
}

/// Whether the filter matches `absolute`, the launcher's own script aside;
/// a filter that ran out of its budget is said once.
fn matches_filter(absolute: &AbsolutePath, config: &Config) -> bool {
    match config.filter.matches(absolute.as_bytes()) {
        Ok(true)
            if LAUNCHER_SCRIPT
                .get()
                .is_some_and(|script| script.as_bytes() == absolute.as_bytes()) =>
        {
            false
        }
        Ok(true) => {
            ANY_MATCHED.store(true, Ordering::Relaxed);
            true
        }
        Ok(false) => false,
        Err(error) => {
            if !BUDGET_WARNED.swap(true, Ordering::Relaxed) {
                warn!(
                    "FORKMON_FILTER: {error} on '{}': such paths are not watched (said once)",
                    crate::log::shown(absolute.as_bytes())
                );
            }
            false
        }
    }
}

/// `path` (as given, relative to `base`) as an absolute path in `absolute`.
fn resolve(absolute: &mut AbsolutePath, base: Base, path: &[u8]) -> bool {
    if path.starts_with(b"/") {
        absolute.resolve_in_place(b"/", path)
    } else {
        match base {
            Base::Directory(fd) if fd != libc::AT_FDCWD => absolute
                .resolve_in_place_from(|buffer| sys::fd_path(fd, buffer).map(<[u8]>::len), path),
            _ => absolute.resolve_in_place_from(
                |buffer| super::cwd::current_dir(buffer).map(<[u8]>::len),
                path,
            ),
        }
    }
}

/// Called by the hooks before the program lists the directory `path`
/// (`opendir`, or `fdopendir` with the directory as `base` and "."). A
/// listing counts when the filter matches the directory's path with a
/// trailing '/' (the command's default filter, or a pattern like
/// `/spec/$`): a file added or removed there resumes from before it.
pub fn before_listing(base: Base, path: &[u8]) {
    let Some(config) = config::active() else {
        return;
    };
    let mut absolute = AbsolutePath::empty();
    if path.is_empty() || !resolve(&mut absolute, base, path) || is_kernel_path(absolute.as_bytes())
    {
        return;
    }
    let mut with_slash = absolute.as_bytes().to_vec();
    if !with_slash.ends_with(b"/") {
        with_slash.push(b'/');
    }
    if config.filter.matches(&with_slash) == Ok(true) {
        ANY_MATCHED.store(true, Ordering::Relaxed);
        engine::before_listing(&absolute);
    }
}

/// Called by the hook after the real open of `path`, if `before_open` asked
/// for it, with the descriptor it opened (or the `errno` it failed with).
/// A file the program looked for and did not find is watched: when it
/// appears, the program resumes from the checkpoint before the lookup.
pub fn after_open(tie: TieAfterOpen, path: &[u8], opened: Result<i32, i32>) {
    let fd = match opened {
        Ok(fd) => fd,
        Err(errno) => {
            if errno == libc::ENOENT {
                engine::looked_for_missing(tie.path);
            }
            return;
        }
    };
    let stamp = if tie.needs_stamp {
        // The program cannot have closed `fd` yet: this runs before its
        // open returns to it.
        let stat = sys::fstat_number(fd);
        // A FIFO, a device or a directory that matched the filter: never
        // watched (only a new checkpoint probes the file first).
        if stat.is_some_and(|stat| stat.st_mode & libc::S_IFMT != libc::S_IFREG) {
            return;
        }
        stat.map(|stat| FileStamp::of(&stat))
    } else {
        // Its directory's contents were watched before the open: an edit
        // from now on is an event. The watcher leaves out what is not a
        // regular file (see `watcher::event_loop`).
        None
    };
    engine::after_read(tie.path, stamp);
    if let Some(anchor) = tie.anchor {
        recent::remember(path, anchor);
    }
}

/// The gate for a path handed over by Lua: outside any re-entry, with
/// panics kept from the interpreter.
pub fn before_lua_open(path: &[u8], access: Access) {
    // Lua strings may hold a NUL; the C library would read a shorter path.
    if path.contains(&0) {
        return;
    }
    let Some(_bypass) = super::guard::Bypass::enter() else {
        return;
    };
    // Lua opens the file after this returns: whether that will work is
    // asked here.
    let _ = std::panic::catch_unwind(|| {
        if let Some(tie) = before_open(Base::CurrentDir, path, access) {
            match probe(tie.path.as_c_str()) {
                Probe::Readable(stamp) => engine::after_read(tie.path, Some(stamp)),
                Probe::Missing => engine::looked_for_missing(tie.path),
                Probe::Unreadable => {}
            }
        }
    });
}

/// What an open for reading of `path` will find (asked only before a new
/// checkpoint, and by the Lua module after its gate).
fn probe(path: &CStr) -> Probe {
    match nix::sys::stat::stat(path) {
        Ok(stat)
            if stat.st_mode & libc::S_IFMT == libc::S_IFREG
                && nix::unistd::access(path, nix::unistd::AccessFlags::R_OK).is_ok() =>
        {
            Probe::Readable(FileStamp::of(&stat))
        }
        Err(nix::errno::Errno::ENOENT) => Probe::Missing,
        _ => Probe::Unreadable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_read_only_opens_and_modes_count() {
        assert!(reads_only(libc::O_RDONLY | libc::O_CLOEXEC));
        assert!(!reads_only(libc::O_WRONLY));
        assert!(!reads_only(libc::O_RDWR));
        assert!(!reads_only(libc::O_RDONLY | libc::O_DIRECTORY));
        assert!(!reads_only(libc::O_PATH));
        for mode in ["r", "rb", "re", "rbe", "r,ccs=UTF-8"] {
            assert!(mode_reads_only(mode.as_bytes()), "{mode}");
        }
        for mode in ["w", "r+", "rb+", "a", "", "x"] {
            assert!(!mode_reads_only(mode.as_bytes()), "{mode}");
        }
    }
}
