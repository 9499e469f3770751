//! The libc functions the hooks stand in front of, found once with
//! `dlsym(RTLD_NEXT)` (each detour has its own [`Symbol`], see `detour!`).

use std::ffi::CStr;
use std::sync::atomic::{AtomicPtr, Ordering};

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
