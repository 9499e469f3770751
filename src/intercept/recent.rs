//! The last file an open tied, by the path as the program gave it. Lua's
//! `require` opens each module twice (its searcher checks that the file can
//! be read, then the loader opens it): the second open is passed by here,
//! without building the absolute path or taking the engine's lock.

#![forbid(unsafe_code)]

use std::sync::Mutex;

use super::Base;
use super::cwd;

/// What a path the program gave is relative to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    Root,
    /// The current directory, as long as it has not changed since.
    CurrentDir {
        generation: u64,
    },
}

impl Anchor {
    /// `None` where the same path may name another file next time: relative
    /// to a directory descriptor, or to a current directory whose changes
    /// are not followed (the Lua module way in hooks no `chdir`).
    pub fn of(base: Base, path: &[u8]) -> Option<Anchor> {
        if path.starts_with(b"/") {
            return Some(Anchor::Root);
        }
        match base {
            Base::Directory(fd) if fd != libc::AT_FDCWD => None,
            _ => cwd::generation().map(|generation| Anchor::CurrentDir { generation }),
        }
    }
}

struct Recent {
    path: Vec<u8>,
    anchor: Option<Anchor>,
}

static RECENT: Mutex<Recent> = Mutex::new(Recent {
    path: Vec::new(),
    anchor: None,
});

/// Whether `path` from `anchor` is the file the last tie was for. Never
/// waits: a busy or poisoned lock just answers no.
pub fn was_tied(path: &[u8], anchor: Anchor) -> bool {
    RECENT
        .try_lock()
        .is_ok_and(|recent| recent.anchor == Some(anchor) && recent.path == path)
}

/// `path` from `anchor` was just tied (tied files stay tied in this process
/// and in every copy forked from it).
pub fn remember(path: &[u8], anchor: Anchor) {
    if let Ok(mut recent) = RECENT.try_lock() {
        recent.path.clear();
        recent.path.extend_from_slice(path);
        recent.anchor = Some(anchor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_path_from_the_same_place_counts() {
        let here = Anchor::CurrentDir { generation: 7 };
        remember(b"./mods/a.lua", here);
        assert!(was_tied(b"./mods/a.lua", here));
        assert!(!was_tied(b"./mods/b.lua", here));
        assert!(!was_tied(
            b"./mods/a.lua",
            Anchor::CurrentDir { generation: 8 }
        ));
        assert!(!was_tied(b"./mods/a.lua", Anchor::Root));
        assert_eq!(Anchor::of(Base::Directory(3), b"a.lua"), None);
        assert_eq!(
            Anchor::of(Base::Directory(3), b"/a.lua"),
            Some(Anchor::Root)
        );
    }
}
