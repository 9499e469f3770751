//! The libc read-opens forkmon stands in front of, and the changes of
//! directory that relative paths depend on. Each detour asks the gate
//! (safe code) whether this open is the first read of a watched file, which
//! may make a checkpoint, and then makes the real call with the caller's
//! arguments unchanged.
//!
//! `open` and `openat` are variadic in C. On the x86-64 and AArch64 Linux
//! ABIs a variadic integer argument travels in the same register as a
//! declared one, so declaring the optional `mode` as a plain parameter
//! receives exactly what the caller passed (garbage when the caller passed
//! none, which the real open then ignores, as it would have).

use std::ffi::{CStr, c_char, c_int};

use libc::{FILE, mode_t};

use super::real::Symbol;
use crate::intercept::Base;
use crate::intercept::gate::{self, Access, TieAfterOpen};
use crate::intercept::guard::Bypass;
use crate::sys;

/// Runs the gate for one open, outside any re-entry, with `errno` and
/// panics kept from the host. What it returns goes to [`conclude`] with
/// the result of the real open.
///
/// # Safety
/// `path` is null or a NUL-terminated string, as open(2) requires.
unsafe fn consider(
    base: Base,
    path: *const c_char,
    access: Option<Access>,
) -> Option<TieAfterOpen> {
    let access = access?;
    if path.is_null() || !gate::is_on() {
        return None;
    }
    let _bypass = Bypass::enter()?;
    let saved_errno = sys::errno();
    // SAFETY: non-null and NUL-terminated per this function's contract.
    let path = unsafe { CStr::from_ptr(path) }.to_bytes();
    let tie = std::panic::catch_unwind(|| gate::before_open(base, path, access))
        .ok()
        .flatten();
    sys::set_errno(saved_errno);
    tie
}

/// Ties a file the gate asked about once its open is done, with `errno`
/// (as the real open set it) and panics kept from the host.
///
/// # Safety
/// `path` is the NUL-terminated string the open was given (not null when
/// `tie` is some).
unsafe fn conclude(tie: Option<TieAfterOpen>, path: *const c_char, opened: Option<c_int>) {
    let Some(tie) = tie else { return };
    // SAFETY: per this function's contract: `consider` only returns a tie
    // for a non-null path.
    let path = unsafe { CStr::from_ptr(path) }.to_bytes();
    let Some(_bypass) = Bypass::enter() else {
        return;
    };
    let saved_errno = sys::errno();
    let opened = opened.ok_or(saved_errno);
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        gate::after_open(tie, path, opened)
    }));
    sys::set_errno(saved_errno);
}

/// # Safety
/// `mode` is null or a NUL-terminated string, as fopen(3) requires.
unsafe fn mode_access(mode: *const c_char) -> Option<Access> {
    // SAFETY: per this function's contract.
    (!mode.is_null()).then(|| gate::mode_access(unsafe { CStr::from_ptr(mode) }.to_bytes()))
}

/// The real function as type `F`, or `None` if libc has no such symbol.
fn real<F: Copy>(symbol: &Symbol) -> Option<F> {
    let address = symbol.address();
    if address.is_null() || size_of::<F>() != size_of::<*mut libc::c_void>() {
        return None;
    }
    // SAFETY: F is the function pointer type `detour!` spells from the C
    // signature of the libc function this symbol names.
    Some(unsafe { std::mem::transmute_copy::<*mut libc::c_void, F>(&address) })
}

fn missing_int() -> c_int {
    sys::set_errno(libc::ENOSYS);
    -1
}

fn missing_file() -> *mut FILE {
    sys::set_errno(libc::ENOSYS);
    std::ptr::null_mut()
}

/// Around an open(2)-like call: the gate before it, the tie after it.
///
/// # Safety
/// `path` is null or a NUL-terminated string, as open(2) requires.
unsafe fn around_open(
    base: Base,
    path: *const c_char,
    access: Option<Access>,
    open: impl FnOnce() -> c_int,
) -> c_int {
    // SAFETY: per this function's contract.
    let tie = unsafe { consider(base, path, access) };
    let result = open();
    // SAFETY: the caller's path, as passed to `consider`.
    unsafe { conclude(tie, path, (result >= 0).then_some(result)) };
    result
}

/// Around an fopen(3)-like call.
///
/// # Safety
/// `path` and `mode` are null or NUL-terminated strings, as fopen(3)
/// requires (a null path, freopen's mode change alone, is passed by).
unsafe fn around_fopen(
    path: *const c_char,
    mode: *const c_char,
    open: impl FnOnce() -> *mut FILE,
) -> *mut FILE {
    // SAFETY: per this function's contract.
    let tie = unsafe { consider(Base::CurrentDir, path, mode_access(mode)) };
    let result = open();
    // SAFETY: a stream fopen just returned, not yet handed to the caller,
    // and the caller's path, as passed to `consider`.
    unsafe { conclude(tie, path, (!result.is_null()).then(|| libc::fileno(result))) };
    result
}

/// One detour, from its C signature given once: the exported function
/// under libc's name, the static that finds libc's own definition, and its
/// function type. `$real` is bound in `$body` to a function that calls
/// libc's definition (or returns `$missing` if libc has none).
macro_rules! detour {
    (
        $(#[$doc:meta])*
        fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty;
        missing: $missing:expr;
        |$real:ident| $body:expr
    ) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// Same contract as the libc function.
        // SAFETY: exported under libc's name on purpose, to interpose it;
        // the signature is libc's, and the body calls through to libc's.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> $ret {
            // SAFETY: the bytes are the function's name and one NUL.
            static REAL: Symbol = Symbol::new(unsafe {
                CStr::from_bytes_with_nul_unchecked(concat!(stringify!($name), "\0").as_bytes())
            });
            let $real = |$($arg: $ty),*| -> $ret {
                match real::<unsafe extern "C" fn($($ty),*) -> $ret>(&REAL) {
                    // SAFETY: libc's definition, with the caller's arguments.
                    Some(function) => unsafe { function($($arg),*) },
                    None => $missing,
                }
            };
            $body
        }
    };
}

detour! {
    /// open(2): tcc reads its sources and headers with it.
    fn open(path: *const c_char, flags: c_int, mode: mode_t) -> c_int;
    missing: missing_int();
    // SAFETY: the caller honours open(2)'s contract for `path`.
    |real| unsafe {
        around_open(Base::CurrentDir, path, gate::flags_access(flags), || real(path, flags, mode))
    }
}

detour! {
    /// creat(2): an open for writing that makes the file (glibc's does
    /// not go through `open`).
    fn creat(path: *const c_char, mode: mode_t) -> c_int;
    missing: missing_int();
    // SAFETY: the caller honours creat(2)'s contract for `path`.
    |real| unsafe { around_open(Base::CurrentDir, path, Some(Access::Write), || real(path, mode)) }
}

detour! {
    /// creat64(2): creat(2) in large-file builds.
    fn creat64(path: *const c_char, mode: mode_t) -> c_int;
    missing: missing_int();
    // SAFETY: as creat.
    |real| unsafe { around_open(Base::CurrentDir, path, Some(Access::Write), || real(path, mode)) }
}

detour! {
    /// open64(2): what Rust's std and large-file builds call.
    fn open64(path: *const c_char, flags: c_int, mode: mode_t) -> c_int;
    missing: missing_int();
    // SAFETY: as open.
    |real| unsafe {
        around_open(Base::CurrentDir, path, gate::flags_access(flags), || real(path, flags, mode))
    }
}

detour! {
    /// __open_2: open(2) as compiled with _FORTIFY_SOURCE.
    fn __open_2(path: *const c_char, flags: c_int) -> c_int;
    missing: missing_int();
    // SAFETY: as open.
    |real| unsafe {
        around_open(Base::CurrentDir, path, gate::flags_access(flags), || real(path, flags))
    }
}

detour! {
    /// __open64_2: open64(2) as compiled with _FORTIFY_SOURCE.
    fn __open64_2(path: *const c_char, flags: c_int) -> c_int;
    missing: missing_int();
    // SAFETY: as open.
    |real| unsafe {
        around_open(Base::CurrentDir, path, gate::flags_access(flags), || real(path, flags))
    }
}

detour! {
    /// openat(2): relative to a directory descriptor.
    fn openat(dir: c_int, path: *const c_char, flags: c_int, mode: mode_t) -> c_int;
    missing: missing_int();
    // SAFETY: the caller honours openat(2)'s contract for `path`.
    |real| unsafe {
        around_open(Base::Directory(dir), path, gate::flags_access(flags), || {
            real(dir, path, flags, mode)
        })
    }
}

detour! {
    /// openat64(2).
    fn openat64(dir: c_int, path: *const c_char, flags: c_int, mode: mode_t) -> c_int;
    missing: missing_int();
    // SAFETY: as openat.
    |real| unsafe {
        around_open(Base::Directory(dir), path, gate::flags_access(flags), || {
            real(dir, path, flags, mode)
        })
    }
}

detour! {
    /// __openat_2: openat(2) as compiled with _FORTIFY_SOURCE.
    fn __openat_2(dir: c_int, path: *const c_char, flags: c_int) -> c_int;
    missing: missing_int();
    // SAFETY: as openat.
    |real| unsafe {
        around_open(Base::Directory(dir), path, gate::flags_access(flags), || real(dir, path, flags))
    }
}

detour! {
    /// __openat64_2: openat64(2) as compiled with _FORTIFY_SOURCE.
    fn __openat64_2(dir: c_int, path: *const c_char, flags: c_int) -> c_int;
    missing: missing_int();
    // SAFETY: as openat.
    |real| unsafe {
        around_open(Base::Directory(dir), path, gate::flags_access(flags), || real(dir, path, flags))
    }
}

detour! {
    /// fopen(3).
    fn fopen(path: *const c_char, mode: *const c_char) -> *mut FILE;
    missing: missing_file();
    // SAFETY: the caller honours fopen(3)'s contract for both strings.
    |real| unsafe { around_fopen(path, mode, || real(path, mode)) }
}

detour! {
    /// fopen64(3): lua5.4 loads scripts and modules with it.
    fn fopen64(path: *const c_char, mode: *const c_char) -> *mut FILE;
    missing: missing_file();
    // SAFETY: as fopen.
    |real| unsafe { around_fopen(path, mode, || real(path, mode)) }
}

detour! {
    /// freopen(3).
    fn freopen(path: *const c_char, mode: *const c_char, stream: *mut FILE) -> *mut FILE;
    missing: missing_file();
    // SAFETY: the caller honours freopen(3)'s contract; a null path (a
    // mode change alone) is passed by.
    |real| unsafe { around_fopen(path, mode, || real(path, mode, stream)) }
}

detour! {
    /// freopen64(3): lua5.4 reopens binary chunks with it.
    fn freopen64(path: *const c_char, mode: *const c_char, stream: *mut FILE) -> *mut FILE;
    missing: missing_file();
    // SAFETY: as freopen.
    |real| unsafe { around_fopen(path, mode, || real(path, mode, stream)) }
}

detour! {
    /// chdir(2): relative paths opened after it resolve against the new
    /// directory.
    fn chdir(path: *const c_char) -> c_int;
    missing: missing_int();
    |real| {
        let result = real(path);
        crate::intercept::cwd::changed();
        result
    }
}

detour! {
    /// fchdir(2): as chdir.
    fn fchdir(fd: c_int) -> c_int;
    missing: missing_int();
    |real| {
        let result = real(fd);
        crate::intercept::cwd::changed();
        result
    }
}

detour! {
    /// chroot(2): files opened after it are under another root, which the
    /// engine then looks at.
    fn chroot(path: *const c_char) -> c_int;
    missing: missing_int();
    |real| {
        crate::engine::root_may_have_changed();
        real(path)
    }
}

/// Whether a run stands in for the group leader the program would be
/// alone (see [`crate::engine::stands_in_for_its_group_leader`]), outside
/// any re-entry, with `errno` and panics kept from the host.
fn stands_in_for_its_group_leader() -> bool {
    if !gate::is_on() {
        return false;
    }
    let Some(_bypass) = Bypass::enter() else {
        return false;
    };
    let saved_errno = sys::errno();
    let standing_in =
        std::panic::catch_unwind(crate::engine::stands_in_for_its_group_leader).unwrap_or(false);
    sys::set_errno(saved_errno);
    standing_in
}

detour! {
    /// clock(3), Lua's `os.clock`: the program's processor time since it
    /// started, as alone, not since its run's fork.
    fn clock() -> libc::clock_t;
    missing: -1;
    |real| {
        let own = real();
        if own < 0 || !gate::is_on() {
            return own;
        }
        let before = crate::engine::as_alone::cpu_before_this_process();
        // CLOCKS_PER_SEC is 1,000,000 (POSIX): microseconds.
        let before = libc::clock_t::try_from(before.as_micros()).unwrap_or(libc::clock_t::MAX);
        own.saturating_add(before)
    }
}

detour! {
    /// getppid(2): under a checkpoint the run's parent is a holder; the
    /// program's is the parent of the process the user started (a shell, a
    /// supervisor that watches for its end), as alone.
    fn getppid() -> libc::pid_t;
    missing: missing_int();
    |real| {
        if !gate::is_on() {
            return real();
        }
        let Some(_bypass) = Bypass::enter() else {
            return real();
        };
        let saved_errno = sys::errno();
        let parent = std::panic::catch_unwind(crate::engine::as_alone::program_parent).ok().flatten();
        sys::set_errno(saved_errno);
        parent.unwrap_or_else(real)
    }
}

detour! {
    /// setsid(2): fails for a group leader, as the program would be alone.
    fn setsid() -> libc::pid_t;
    missing: missing_int();
    |real| {
        if stands_in_for_its_group_leader() {
            sys::set_errno(libc::EPERM);
            return -1;
        }
        real()
    }
}

detour! {
    /// setpgid(2): a leader's own group again changes nothing, as alone
    /// (and fails for a session's leader).
    fn setpgid(pid: libc::pid_t, group: libc::pid_t) -> c_int;
    missing: missing_int();
    |real| {
        let me = || nix::unistd::getpid().as_raw();
        let own = |id: libc::pid_t| id == 0 || id == me();
        if own(pid) && own(group) && stands_in_for_its_group_leader() {
            return as_the_leader_would();
        }
        real(pid, group)
    }
}

detour! {
    /// setpgrp(2): `setpgid(0, 0)`, which glibc calls inside, unseen.
    fn setpgrp() -> c_int;
    missing: missing_int();
    |real| {
        if stands_in_for_its_group_leader() {
            return as_the_leader_would();
        }
        real()
    }
}

/// What `setpgid(0, 0)` gives the leader of the run's group, which the
/// program would be: nothing to do, or EPERM if it leads its session too
/// (started by `setsid`, or by a terminal directly).
fn as_the_leader_would() -> c_int {
    let group = nix::unistd::getpgrp();
    if nix::unistd::getsid(None).is_ok_and(|session| session == group) {
        sys::set_errno(libc::EPERM);
        return -1;
    }
    0
}

/// Asks the gate about a directory the program is about to list, outside
/// any re-entry, with `errno` and panics kept from the host.
///
/// # Safety
/// `path` is null or a NUL-terminated string.
unsafe fn consider_listing(base: Base, path: *const c_char) {
    if path.is_null() || !gate::is_on() {
        return;
    }
    let Some(_bypass) = Bypass::enter() else {
        return;
    };
    let saved_errno = sys::errno();
    // SAFETY: non-null and NUL-terminated per this function's contract.
    let path = unsafe { CStr::from_ptr(path) }.to_bytes();
    let _ = std::panic::catch_unwind(|| gate::before_listing(base, path));
    sys::set_errno(saved_errno);
}

detour! {
    /// opendir(3): LuaFileSystem's `lfs.dir` (busted's spec discovery)
    /// lists a directory with it.
    fn opendir(path: *const c_char) -> *mut libc::DIR;
    missing: missing_dir();
    |real| {
        // SAFETY: the caller honours opendir(3)'s contract for `path`.
        unsafe { consider_listing(Base::CurrentDir, path) };
        real(path)
    }
}

detour! {
    /// fdopendir(3): a directory opened by descriptor, then listed.
    fn fdopendir(fd: c_int) -> *mut libc::DIR;
    missing: missing_dir();
    |real| {
        // SAFETY: "." is a NUL-terminated string.
        unsafe { consider_listing(Base::Directory(fd), c".".as_ptr()) };
        real(fd)
    }
}

/// scandir(3)'s callbacks and result, passed through untouched.
type Untouched = *mut std::ffi::c_void;

detour! {
    /// scandir(3): glibc lists with its own opendir, which no detour sees.
    fn scandir(path: *const c_char, names: Untouched, filter: Untouched, compare: Untouched) -> c_int;
    missing: missing_int();
    |real| {
        // SAFETY: the caller honours scandir(3)'s contract for `path`.
        unsafe { consider_listing(Base::CurrentDir, path) };
        real(path, names, filter, compare)
    }
}

detour! {
    /// scandir64(3): scandir(3) in large-file builds.
    fn scandir64(path: *const c_char, names: Untouched, filter: Untouched, compare: Untouched) -> c_int;
    missing: missing_int();
    |real| {
        // SAFETY: as scandir.
        unsafe { consider_listing(Base::CurrentDir, path) };
        real(path, names, filter, compare)
    }
}

detour! {
    /// scandirat(3): scandir(3) relative to a directory descriptor.
    fn scandirat(dir: c_int, path: *const c_char, names: Untouched, filter: Untouched, compare: Untouched) -> c_int;
    missing: missing_int();
    |real| {
        // SAFETY: as scandir.
        unsafe { consider_listing(Base::Directory(dir), path) };
        real(dir, path, names, filter, compare)
    }
}

/// The directory `glob(3)` lists for `pattern`, when only its last part
/// has wildcards (`plugins/*.conf`: `plugins`; `*.lua`: `.`), NUL-ended.
fn globbed_directory(pattern: &[u8]) -> Option<Vec<u8>> {
    let wild = |part: &[u8]| part.iter().any(|b| matches!(b, b'*' | b'?' | b'['));
    let (dir, name) = match pattern.iter().rposition(|&b| b == b'/') {
        Some(0) => (&b"/"[..], &pattern[1..]),
        Some(at) => (&pattern[..at], &pattern[at + 1..]),
        None => (&b"."[..], pattern),
    };
    (wild(name) && !wild(dir)).then(|| [dir, b"\0"].concat())
}

/// Asks the gate about the directory a glob(3) of `pattern` lists.
///
/// # Safety
/// `pattern` is null or a NUL-terminated string.
unsafe fn consider_glob(pattern: *const c_char) {
    if pattern.is_null() {
        return;
    }
    // SAFETY: non-null and NUL-terminated per this function's contract.
    let pattern = unsafe { CStr::from_ptr(pattern) }.to_bytes();
    if let Some(dir) = globbed_directory(pattern) {
        // SAFETY: `dir` ends with its NUL, and lives through the call.
        unsafe { consider_listing(Base::CurrentDir, dir.as_ptr().cast()) };
    }
}

detour! {
    /// glob(3): lists with glibc's own opendir too.
    fn glob(pattern: *const c_char, flags: c_int, errors: Untouched, found: Untouched) -> c_int;
    missing: libc::GLOB_ABORTED;
    |real| {
        // SAFETY: the caller honours glob(3)'s contract for `pattern`.
        unsafe { consider_glob(pattern) };
        real(pattern, flags, errors, found)
    }
}

detour! {
    /// glob64(3): glob(3) in large-file builds.
    fn glob64(pattern: *const c_char, flags: c_int, errors: Untouched, found: Untouched) -> c_int;
    missing: libc::GLOB_ABORTED;
    |real| {
        // SAFETY: as glob.
        unsafe { consider_glob(pattern) };
        real(pattern, flags, errors, found)
    }
}

fn missing_dir() -> *mut libc::DIR {
    sys::set_errno(libc::ENOSYS);
    std::ptr::null_mut()
}

#[cfg(test)]
mod tests {
    use super::globbed_directory;

    #[test]
    fn a_glob_lists_the_folder_of_its_last_part() {
        assert_eq!(
            globbed_directory(b"plugins/*.conf"),
            Some(b"plugins\0".to_vec())
        );
        assert_eq!(globbed_directory(b"*.lua"), Some(b".\0".to_vec()));
        assert_eq!(globbed_directory(b"/*.lua"), Some(b"/\0".to_vec()));
        // No wildcard: nothing is listed; wildcards above: not told.
        assert_eq!(globbed_directory(b"plugins/a.conf"), None);
        assert_eq!(globbed_directory(b"*/a.conf"), None);
        assert_eq!(globbed_directory(b"*/*.conf"), None);
    }
}
