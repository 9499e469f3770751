//! A value that any thread reads without a lock, replaced now and then: the
//! options in force, read by the hooks on every open of the host. Each
//! published value is leaked on purpose (a few per run at most), so a
//! reference a reader holds stays valid for good.

use std::sync::atomic::{AtomicPtr, Ordering};

pub struct Published<T: 'static>(AtomicPtr<T>);

impl<T> Published<T> {
    pub const fn new() -> Self {
        Published(AtomicPtr::new(std::ptr::null_mut()))
    }

    /// The value published last, if any.
    pub fn get(&self) -> Option<&'static T> {
        let current = self.0.load(Ordering::Acquire);
        // SAFETY: null or a pointer from Box::leak in `publish`, never freed
        // or written through, so a shared 'static reference to it is valid.
        unsafe { current.as_ref() }
    }

    /// Makes `value` the one `get` returns from now on.
    pub fn publish(&self, value: T) -> &'static T {
        let leaked: &'static mut T = Box::leak(Box::new(value));
        self.0.store(leaked, Ordering::Release);
        leaked
    }
}

impl<T> Default for Published<T> {
    fn default() -> Self {
        Self::new()
    }
}
