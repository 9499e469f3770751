//! The runner's watch of the folders its tasks read from: an inotify
//! instance of its own, a watch per folder.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::time::Instant;

use inotify::{EventMask, Inotify};
use rustc_hash::FxHashMap;

use super::settle::Settle;
use crate::paths::split_parent;
use crate::warn;
use crate::watcher::watchlist::FileEvent;

/// The runner's own inotify instance and its directory watches.
pub struct Watch {
    pub inotify: Inotify,
    /// The paths each watch was asked for: one folder reached by several
    /// paths (`spec` a link to `specs`) is one watch, and an event in it
    /// is a change under each of them.
    dirs: FxHashMap<i32, Vec<Vec<u8>>>,
    watched: rustc_hash::FxHashSet<Vec<u8>>,
}

impl Watch {
    pub fn new(inotify: Inotify) -> Watch {
        Watch {
            inotify,
            dirs: FxHashMap::default(),
            watched: Default::default(),
        }
    }

    /// Watches `dir`; while it is missing (removed, moved away), the
    /// nearest folder above it that exists, where its coming back is a
    /// change. Returns whether `dir` itself is watched from now on.
    pub fn add_dir_or_above(&mut self, dir: &[u8]) -> bool {
        if dir.is_empty() || self.watched.contains(dir) {
            return false;
        }
        let mut missing = dir;
        while !is_dir(missing) {
            let above = split_parent(missing).0;
            if above.is_empty() || above == missing {
                return false;
            }
            missing = above;
        }
        if missing == dir {
            self.add_dir(dir);
            self.watched.contains(dir)
        } else {
            self.add_dir(missing);
            false
        }
    }

    pub fn add_dir(&mut self, dir: &[u8]) {
        if dir.is_empty() || self.watched.contains(dir) {
            return;
        }
        match self
            .inotify
            .watches()
            .add(OsStr::from_bytes(dir), crate::channel::directory_events())
        {
            Ok(watch) => {
                self.dirs
                    .entry(watch.get_watch_descriptor_id())
                    .or_default()
                    .push(dir.to_vec());
                self.watched.insert(dir.to_vec());
            }
            Err(error) => warn!(
                "cannot watch '{}' for forkmon.each: {error}",
                crate::log::shown(dir)
            ),
        }
    }

    /// The watch `id` is no more.
    fn forget(&mut self, id: i32) {
        for dir in self.dirs.remove(&id).unwrap_or_default() {
            self.watched.remove(&dir);
        }
    }

    /// Drops the watches of the folders below `dir`.
    fn forget_below(&mut self, dir: &[u8]) {
        let below: Vec<i32> = self
            .dirs
            .iter()
            .filter(|(_, paths)| {
                paths.iter().any(|path| {
                    path.strip_prefix(dir)
                        .is_some_and(|rest| rest.starts_with(b"/"))
                })
            })
            .map(|(id, _)| *id)
            .collect();
        for id in below {
            self.forget(id);
        }
    }
}

pub fn is_dir(path: &[u8]) -> bool {
    std::fs::metadata(OsStr::from_bytes(path)).is_ok_and(|meta| meta.is_dir())
}

/// Reads the events waiting, as changes of the paths they name.
pub fn read_events(watch: &mut Watch, buffer: &mut [u8], settle: &mut Settle, now: Instant) {
    loop {
        let events = match watch.inotify.read_events(buffer) {
            Ok(events) => events,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let mut any = false;
        for event in events {
            any = true;
            let id = event.wd.get_watch_descriptor_id();
            let Some(dirs) = watch.dirs.get(&id) else {
                continue;
            };
            if event
                .mask
                .intersects(EventMask::DELETE_SELF | EventMask::MOVE_SELF)
            {
                // Gone from its path: a watch follows the folder, and would
                // tell what happens in it under a path that is not its own.
                // Its path counts as changed (the runner lists the tasks
                // again), and is watched again once it is back. The folders
                // below it moved with it (or went): their watches follow
                // them and are no longer of their paths either.
                let dirs = dirs.clone();
                let _ = watch.inotify.watches().remove(event.wd.clone());
                watch.forget(id);
                for dir in &dirs {
                    settle.event(dir, FileEvent::Removed, now);
                    watch.forget_below(dir);
                }
                continue;
            }
            if event.mask.contains(EventMask::IGNORED) {
                watch.forget(id);
                continue;
            }
            if let (Some(name), Some(kind)) = (event.name, crate::watcher::file_event(event.mask)) {
                for dir in dirs {
                    let mut path = dir.clone();
                    if !path.ends_with(b"/") {
                        path.push(b'/');
                    }
                    path.extend_from_slice(name.as_bytes());
                    settle.event(&path, kind, now);
                }
            }
        }
        if !any {
            return;
        }
    }
}
