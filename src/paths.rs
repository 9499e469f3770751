//! Absolute, lexically normalised paths built in a fixed buffer, so the hot
//! path of every hooked open allocates nothing.

#![forbid(unsafe_code)]

use std::ffi::{CStr, CString};

/// Linux's PATH_MAX, counting the terminating NUL.
pub const CAPACITY: usize = 4096;

/// A normalised absolute path (`/a/b`, no `.`, `..` or `//`), NUL-terminated.
pub struct AbsolutePath {
    bytes: [u8; CAPACITY],
    /// Length without the NUL. 0 stands for the root while building.
    len: usize,
}

impl AbsolutePath {
    /// `path` made absolute against `base` (itself absolute) and normalised
    /// lexically: `..` removes the previous component, as a user reading
    /// the path would expect. `None` if the result does not fit.
    pub fn resolve(base: &[u8], path: &[u8]) -> Option<AbsolutePath> {
        let mut out = AbsolutePath::empty();
        out.resolve_in_place(base, path).then_some(out)
    }

    /// A buffer for [`AbsolutePath::resolve_in_place`].
    pub const fn empty() -> AbsolutePath {
        AbsolutePath {
            bytes: [0; CAPACITY],
            len: 0,
        }
    }

    /// As [`AbsolutePath::resolve`], into this buffer: the hot path of a
    /// hooked open does not move 4 KiB around. False if it does not fit.
    pub fn resolve_in_place(&mut self, base: &[u8], path: &[u8]) -> bool {
        self.len = 0;
        if !path.starts_with(b"/") && self.push_all(base).is_none() {
            return false;
        }
        self.push_all(path).is_some() && self.terminate()
    }

    /// As [`AbsolutePath::resolve_in_place`] for a relative `path`, with
    /// the base written straight into this buffer by `write_base` (which
    /// returns its length), so a relative open copies its directory once.
    /// The base must be absolute and normalised, as the kernel gives the
    /// current directory or a descriptor's path; anything else is refused.
    pub fn resolve_in_place_from(
        &mut self,
        write_base: impl FnOnce(&mut [u8]) -> Option<usize>,
        path: &[u8],
    ) -> bool {
        let Some(len) = write_base(&mut self.bytes) else {
            return false;
        };
        // A base that fills the buffer may have been cut short (readlink).
        if len >= CAPACITY || !self.bytes.get(..len).is_some_and(is_normalised) {
            return false;
        }
        // The root is held as an empty path while building.
        self.len = if len == 1 { 0 } else { len };
        self.push_all(path).is_some() && self.terminate()
    }

    /// Ends the path with its NUL (and makes the empty path the root).
    fn terminate(&mut self) -> bool {
        if self.len == 0 {
            self.bytes[0] = b'/';
            self.len = 1;
        }
        match self.bytes.get_mut(self.len) {
            Some(end) => {
                *end = 0;
                true
            }
            None => false,
        }
    }

    fn push_all(&mut self, path: &[u8]) -> Option<()> {
        for component in path.split(|&b| b == b'/') {
            match component {
                b"" | b"." => {}
                b".." => self.pop(),
                name => self.push(name)?,
            }
        }
        Some(())
    }

    fn pop(&mut self) {
        let slash = self.bytes[..self.len].iter().rposition(|&b| b == b'/');
        self.len = slash.unwrap_or(0);
    }

    fn push(&mut self, name: &[u8]) -> Option<()> {
        // Room for '/', the name and the NUL.
        let end = self.len + 1 + name.len();
        if end >= CAPACITY {
            return None;
        }
        self.bytes[self.len] = b'/';
        self.bytes[self.len + 1..end].copy_from_slice(name);
        self.len = end;
        Some(())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    pub fn as_c_str(&self) -> &CStr {
        // The buffer always holds a NUL at `len` and none before it: names
        // come from C strings or from split on '/', which contain no NUL.
        CStr::from_bytes_until_nul(&self.bytes[..=self.len]).unwrap_or(c"/")
    }

    /// The directory holding the file and the file's name.
    pub fn split_parent(&self) -> (&[u8], &[u8]) {
        split_parent(self.as_bytes())
    }

    /// A copy of just the path, to keep after this buffer is gone.
    pub fn to_owned_path(&self) -> OwnedPath {
        OwnedPath(self.as_c_str().to_owned())
    }
}

/// An [`AbsolutePath`] kept past the open that built it: only its bytes and
/// the NUL, so keeping it neither copies nor allocates 4 KiB.
pub struct OwnedPath(CString);

impl OwnedPath {
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    pub fn as_c_str(&self) -> &CStr {
        &self.0
    }

    /// The bytes without the NUL (the allocation is kept as it is).
    pub fn into_bytes(self) -> Vec<u8> {
        self.0.into_bytes()
    }
}

/// `/a/b/c` gives (`/a/b`, `c`); `/c` gives (`/`, `c`).
pub fn split_parent(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) => (b"/", &path[1..]),
        Some(slash) => (&path[..slash], &path[slash + 1..]),
        None => (b".", path),
    }
}

/// Whether `path` is absolute and has no `.`, `..`, empty component or
/// trailing slash (the root itself aside).
fn is_normalised(path: &[u8]) -> bool {
    match path.strip_prefix(b"/") {
        Some(b"") => true,
        Some(rest) => rest
            .split(|&b| b == b'/')
            .all(|component| !matches!(component, b"" | b"." | b"..")),
        None => false,
    }
}

/// Kernel file systems whose files are not sources and change on their own.
pub fn is_kernel_path(path: &[u8]) -> bool {
    ["/proc", "/sys", "/dev"].iter().any(|root| {
        path.strip_prefix(root.as_bytes())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(b"/"))
    })
}

/// `path` (relative to the current directory) as an absolute path, if it
/// names an existing regular file.
pub fn existing_file(path: &[u8]) -> Option<AbsolutePath> {
    if path.contains(&0) {
        return None;
    }
    let mut base_buffer = [0u8; CAPACITY];
    let base: &[u8] = if path.starts_with(b"/") {
        b"/"
    } else {
        crate::sys::current_dir(&mut base_buffer)?
    };
    let absolute = AbsolutePath::resolve(base, path)?;
    is_regular_file(absolute.as_c_str()).then_some(absolute)
}

fn is_regular_file(path: &CStr) -> bool {
    nix::sys::stat::stat(path).is_ok_and(|stat| stat.st_mode & libc::S_IFMT == libc::S_IFREG)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(base: &str, path: &str) -> String {
        let resolved = AbsolutePath::resolve(base.as_bytes(), path.as_bytes()).expect("fits");
        assert_eq!(resolved.as_c_str().to_bytes(), resolved.as_bytes());
        String::from_utf8(resolved.as_bytes().to_vec()).expect("utf8")
    }

    fn resolve_from(base: &str, path: &str) -> Option<String> {
        let mut out = AbsolutePath::empty();
        let written = |buffer: &mut [u8]| {
            buffer
                .get_mut(..base.len())?
                .copy_from_slice(base.as_bytes());
            Some(base.len())
        };
        out.resolve_in_place_from(written, path.as_bytes())
            .then(|| String::from_utf8(out.as_c_str().to_bytes().to_vec()).expect("utf8"))
    }

    #[test]
    fn a_base_written_in_place_resolves_as_a_given_one() {
        for (base, path) in [
            ("/home/u/app", "src/./m.lua"),
            ("/home/u/app", "../lib//x.lua"),
            ("/", "../../a"),
            ("/", "a/"),
            ("/a", ".."),
        ] {
            assert_eq!(
                resolve_from(base, path).as_deref(),
                Some(&*resolve(base, path))
            );
        }
    }

    #[test]
    fn a_base_written_in_place_must_be_normalised() {
        for base in [
            "",
            "rel",
            "/a/",
            "/a//b",
            "/a/./b",
            "/a/..",
            "(unreachable)/x",
        ] {
            assert_eq!(resolve_from(base, "m.lua"), None, "{base:?}");
        }
    }

    #[test]
    fn relative_paths_join_the_base_and_normalise() {
        assert_eq!(
            resolve("/home/u/app", "src/./m.lua"),
            "/home/u/app/src/m.lua"
        );
        assert_eq!(resolve("/home/u/app", "../lib//x.lua"), "/home/u/lib/x.lua");
        assert_eq!(resolve("/home/u", "/etc/../tmp/a.lua"), "/tmp/a.lua");
        assert_eq!(resolve("/", "../../a"), "/a");
        assert_eq!(resolve("/a", ".."), "/");
    }

    #[test]
    fn overlong_paths_are_refused_not_truncated() {
        let long = "x/".repeat(CAPACITY);
        assert!(AbsolutePath::resolve(b"/", long.as_bytes()).is_none());
    }

    #[test]
    fn parents_and_kernel_paths() {
        assert_eq!(split_parent(b"/a/b.lua"), (&b"/a"[..], &b"b.lua"[..]));
        assert_eq!(split_parent(b"/b.lua"), (&b"/"[..], &b"b.lua"[..]));
        assert!(is_kernel_path(b"/proc/self/status"));
        assert!(is_kernel_path(b"/dev"));
        assert!(!is_kernel_path(b"/devel/a.lua"));
        assert!(!is_kernel_path(b"/tmp/a.lua"));
    }
}
