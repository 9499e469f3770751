//! How two copies of forkmon in one process find each other: a luarocks-
//! installed module `require`d in a program that has another copy preloaded.
//! The preloaded copy is in the global symbol scope, the module (opened with
//! RTLD_LOCAL by Lua) is not, so `dlsym(RTLD_DEFAULT)` finds the preloaded
//! copy's table and the module hands its work to it: one engine, one
//! registry, one watcher.

use std::ffi::c_int;

use super::gate;
use crate::engine;

/// Entry points of one copy, by the C ABI (the copies may be different
/// builds). Grow it only by adding a new versioned symbol.
#[repr(C)]
pub struct SharedV1 {
    /// A path Lua is about to read (as given, relative to the current dir).
    pub before_read: extern "C" fn(*const u8, usize),
    /// Ties an existing file (absolute path): a checkpoint here if `here`,
    /// else the latest one. Returns 1 if newly tied.
    pub tie: extern "C" fn(*const u8, usize, c_int) -> c_int,
    /// Resumes so far in this run.
    pub resumes: extern "C" fn() -> u64,
}

/// # Safety
/// `path` is null, or points to `len` readable bytes that stay valid for
/// `'a`.
unsafe fn bytes<'a>(path: *const u8, len: usize) -> &'a [u8] {
    if path.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: per this function's contract.
    unsafe { std::slice::from_raw_parts(path, len) }
}

extern "C" fn before_read(path: *const u8, len: usize) {
    // SAFETY: the caller (another copy of this code, see `SharedV1`) passes
    // a pointer and length taken from a byte slice it keeps alive.
    let path = unsafe { bytes(path, len) };
    gate::before_lua_open(path, gate::Access::Read);
}

extern "C" fn tie(path: *const u8, len: usize, here: c_int) -> c_int {
    // SAFETY: as in `before_read`.
    let path = unsafe { bytes(path, len) };
    std::panic::catch_unwind(|| match crate::paths::existing_file(path) {
        Some(file) if gate::is_on() => c_int::from(engine::tie(&[file], here != 0) > 0),
        _ => 0,
    })
    .unwrap_or(0)
}

extern "C" fn resumes() -> u64 {
    engine::resume_count()
}

static SHARED: SharedV1 = SharedV1 {
    before_read,
    tie,
    resumes,
};

/// This copy's table, for another copy to find.
// SAFETY: a new, forkmon-specific name, exported on purpose; it returns a
// pointer to an immutable static.
#[unsafe(no_mangle)]
pub extern "C" fn forkmon_shared_v1() -> *const SharedV1 {
    &SHARED
}

/// The table of another copy already in the global scope, if there is one.
pub fn other_copy() -> Option<&'static SharedV1> {
    // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches the
    // global scope.
    let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"forkmon_shared_v1".as_ptr()) };
    if found.is_null() {
        return None;
    }
    // SAFETY: the symbol is this same function in a build of forkmon:
    // `extern "C" fn() -> *const SharedV1`.
    let getter: extern "C" fn() -> *const SharedV1 = unsafe { std::mem::transmute(found) };
    let table = getter();
    // Compared by the table, not the function: an exported function's
    // address resolves to the first copy in scope, the static is our own.
    if std::ptr::eq(table, &SHARED) {
        return None;
    }
    // SAFETY: a pointer to a static that lives as long as that copy stays
    // loaded (a preloaded library is never unloaded).
    unsafe { table.as_ref() }
}
