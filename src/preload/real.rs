//! The libc functions the hooks stand in front of, found once with
//! `dlsym(RTLD_NEXT)`.

use std::ffi::{CStr, c_char, c_int};
use std::sync::atomic::{AtomicPtr, Ordering};

use libc::{FILE, mode_t};

pub type Open = unsafe extern "C" fn(*const c_char, c_int, mode_t) -> c_int;
pub type OpenFortified = unsafe extern "C" fn(*const c_char, c_int) -> c_int;
pub type OpenAt = unsafe extern "C" fn(c_int, *const c_char, c_int, mode_t) -> c_int;
pub type OpenAtFortified = unsafe extern "C" fn(c_int, *const c_char, c_int) -> c_int;
pub type Fopen = unsafe extern "C" fn(*const c_char, *const c_char) -> *mut FILE;
pub type Chdir = unsafe extern "C" fn(*const c_char) -> c_int;
pub type Fchdir = unsafe extern "C" fn(c_int) -> c_int;
pub type Freopen = unsafe extern "C" fn(*const c_char, *const c_char, *mut FILE) -> *mut FILE;

/// One lazily resolved libc symbol.
pub struct Symbol {
    name: &'static CStr,
    address: AtomicPtr<libc::c_void>,
}

impl Symbol {
    pub const fn new(name: &'static CStr) -> Symbol {
        Symbol {
            name,
            address: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The next definition after this library's, or null if there is none.
    pub fn address(&self) -> *mut libc::c_void {
        let cached = self.address.load(Ordering::Relaxed);
        if !cached.is_null() {
            return cached;
        }
        // SAFETY: `name` is a NUL-terminated C string; RTLD_NEXT asks for
        // the definition that follows this object in the lookup order.
        let found = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr()) };
        self.address.store(found, Ordering::Relaxed);
        found
    }
}

pub static OPEN: Symbol = Symbol::new(c"open");
pub static OPEN64: Symbol = Symbol::new(c"open64");
pub static OPEN_2: Symbol = Symbol::new(c"__open_2");
pub static OPEN64_2: Symbol = Symbol::new(c"__open64_2");
pub static OPENAT: Symbol = Symbol::new(c"openat");
pub static OPENAT64: Symbol = Symbol::new(c"openat64");
pub static OPENAT_2: Symbol = Symbol::new(c"__openat_2");
pub static OPENAT64_2: Symbol = Symbol::new(c"__openat64_2");
pub static FOPEN: Symbol = Symbol::new(c"fopen");
pub static FOPEN64: Symbol = Symbol::new(c"fopen64");
pub static FREOPEN: Symbol = Symbol::new(c"freopen");
pub static FREOPEN64: Symbol = Symbol::new(c"freopen64");
pub static CHDIR: Symbol = Symbol::new(c"chdir");
pub static FCHDIR: Symbol = Symbol::new(c"fchdir");
