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

use super::real::{self, Symbol};
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
    // SAFETY: F is one of the function pointer types of `real`, declared
    // with the C signature of the libc function this symbol names.
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

macro_rules! open_detour {
    ($(#[$doc:meta])* $name:ident, $symbol:ident) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// Same contract as the libc function.
        // SAFETY: exported under libc's name on purpose, to interpose it;
        // the signature is libc's, and the body calls through to libc's.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
            // SAFETY: the caller honours open(2)'s contract for `path`.
            let tie = unsafe { consider(Base::CurrentDir, path, gate::flags_access(flags)) };
            let result = match real::<real::Open>(&real::$symbol) {
                // SAFETY: the real function with the caller's arguments.
                Some(open) => unsafe { open(path, flags, mode) },
                None => missing_int(),
            };
            // SAFETY: the caller's path, as passed to `consider`.
            unsafe { conclude(tie, path, (result >= 0).then_some(result)) };
            result
        }
    };
}

macro_rules! open_fortified_detour {
    ($(#[$doc:meta])* $name:ident, $symbol:ident) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// Same contract as the libc function.
        // SAFETY: exported under libc's name on purpose, to interpose it;
        // the signature is libc's, and the body calls through to libc's.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(path: *const c_char, flags: c_int) -> c_int {
            // SAFETY: the caller honours open(2)'s contract for `path`.
            let tie = unsafe { consider(Base::CurrentDir, path, gate::flags_access(flags)) };
            let result = match real::<real::OpenFortified>(&real::$symbol) {
                // SAFETY: the real function with the caller's arguments.
                Some(open) => unsafe { open(path, flags) },
                None => missing_int(),
            };
            // SAFETY: the caller's path, as passed to `consider`.
            unsafe { conclude(tie, path, (result >= 0).then_some(result)) };
            result
        }
    };
}

macro_rules! openat_detour {
    ($(#[$doc:meta])* $name:ident, $symbol:ident) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// Same contract as the libc function.
        // SAFETY: exported under libc's name on purpose, to interpose it;
        // the signature is libc's, and the body calls through to libc's.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(dir: c_int, path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
            // SAFETY: the caller honours openat(2)'s contract for `path`.
            let tie = unsafe { consider(Base::Directory(dir), path, gate::flags_access(flags)) };
            let result = match real::<real::OpenAt>(&real::$symbol) {
                // SAFETY: the real function with the caller's arguments.
                Some(openat) => unsafe { openat(dir, path, flags, mode) },
                None => missing_int(),
            };
            // SAFETY: the caller's path, as passed to `consider`.
            unsafe { conclude(tie, path, (result >= 0).then_some(result)) };
            result
        }
    };
}

macro_rules! openat_fortified_detour {
    ($(#[$doc:meta])* $name:ident, $symbol:ident) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// Same contract as the libc function.
        // SAFETY: exported under libc's name on purpose, to interpose it;
        // the signature is libc's, and the body calls through to libc's.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(dir: c_int, path: *const c_char, flags: c_int) -> c_int {
            // SAFETY: the caller honours openat(2)'s contract for `path`.
            let tie = unsafe { consider(Base::Directory(dir), path, gate::flags_access(flags)) };
            let result = match real::<real::OpenAtFortified>(&real::$symbol) {
                // SAFETY: the real function with the caller's arguments.
                Some(openat) => unsafe { openat(dir, path, flags) },
                None => missing_int(),
            };
            // SAFETY: the caller's path, as passed to `consider`.
            unsafe { conclude(tie, path, (result >= 0).then_some(result)) };
            result
        }
    };
}

macro_rules! fopen_detour {
    ($(#[$doc:meta])* $name:ident, $symbol:ident) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// Same contract as the libc function.
        // SAFETY: exported under libc's name on purpose, to interpose it;
        // the signature is libc's, and the body calls through to libc's.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(path: *const c_char, mode: *const c_char) -> *mut FILE {
            // SAFETY: the caller honours fopen(3)'s contract for both strings.
            let tie = unsafe { consider(Base::CurrentDir, path, mode_access(mode)) };
            let result = match real::<real::Fopen>(&real::$symbol) {
                // SAFETY: the real function with the caller's arguments.
                Some(fopen) => unsafe { fopen(path, mode) },
                None => missing_file(),
            };
            // SAFETY: a stream fopen just returned, not yet handed to the
            // caller, and the caller's path, as passed to `consider`.
            unsafe { conclude(tie, path, (!result.is_null()).then(|| libc::fileno(result))) };
            result
        }
    };
}

macro_rules! freopen_detour {
    ($(#[$doc:meta])* $name:ident, $symbol:ident) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// Same contract as the libc function.
        // SAFETY: exported under libc's name on purpose, to interpose it;
        // the signature is libc's, and the body calls through to libc's.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(path: *const c_char, mode: *const c_char, stream: *mut FILE) -> *mut FILE {
            // SAFETY: the caller honours freopen(3)'s contract; a null path
            // (only a mode change) is skipped by `consider`.
            let tie = unsafe { consider(Base::CurrentDir, path, mode_access(mode)) };
            let result = match real::<real::Freopen>(&real::$symbol) {
                // SAFETY: the real function with the caller's arguments.
                Some(freopen) => unsafe { freopen(path, mode, stream) },
                None => missing_file(),
            };
            // SAFETY: a stream fopen just returned, not yet handed to the
            // caller, and the caller's path, as passed to `consider`.
            unsafe { conclude(tie, path, (!result.is_null()).then(|| libc::fileno(result))) };
            result
        }
    };
}

open_detour!(
    /// open(2): tcc reads its sources and headers with it.
    open, OPEN
);
open_detour!(
    /// open64(2): what Rust's std and large-file builds call.
    open64, OPEN64
);
open_fortified_detour!(
    /// __open_2: open(2) as compiled with _FORTIFY_SOURCE.
    __open_2, OPEN_2
);
open_fortified_detour!(
    /// __open64_2: open64(2) as compiled with _FORTIFY_SOURCE.
    __open64_2, OPEN64_2
);
openat_detour!(
    /// openat(2): relative to a directory descriptor.
    openat, OPENAT
);
openat_detour!(
    /// openat64(2).
    openat64, OPENAT64
);
openat_fortified_detour!(
    /// __openat_2: openat(2) as compiled with _FORTIFY_SOURCE.
    __openat_2, OPENAT_2
);
openat_fortified_detour!(
    /// __openat64_2: openat64(2) as compiled with _FORTIFY_SOURCE.
    __openat64_2, OPENAT64_2
);
fopen_detour!(
    /// fopen(3).
    fopen, FOPEN
);
fopen_detour!(
    /// fopen64(3): lua5.4 loads scripts and modules with it.
    fopen64, FOPEN64
);
freopen_detour!(
    /// freopen(3).
    freopen, FREOPEN
);
freopen_detour!(
    /// freopen64(3): lua5.4 reopens binary chunks with it.
    freopen64, FREOPEN64
);

/// chdir(2): relative paths opened after it resolve against the new
/// directory.
///
/// # Safety
/// Same contract as the libc function.
// SAFETY: exported under libc's name on purpose, to interpose it; the
// signature is libc's, and the body calls through to libc's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chdir(path: *const c_char) -> c_int {
    let result = match real::<real::Chdir>(&real::CHDIR) {
        // SAFETY: the real function with the caller's arguments.
        Some(chdir) => unsafe { chdir(path) },
        None => missing_int(),
    };
    crate::intercept::cwd::changed();
    result
}

/// fchdir(2): as chdir.
///
/// # Safety
/// Same contract as the libc function.
// SAFETY: exported under libc's name on purpose, to interpose it; the
// signature is libc's, and the body calls through to libc's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fchdir(fd: c_int) -> c_int {
    let result = match real::<real::Fchdir>(&real::FCHDIR) {
        // SAFETY: the real function with the caller's arguments.
        Some(fchdir) => unsafe { fchdir(fd) },
        None => missing_int(),
    };
    crate::intercept::cwd::changed();
    result
}
