//! The runner's watch of the folders its tasks read from: an inotify
//! instance of its own, a watch per folder.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::time::Instant;

use inotify::Inotify;
use rustc_hash::FxHashMap;

use super::settle::Settle;
use crate::warn;

/// The runner's own inotify instance and its directory watches.
pub struct Watch {
    pub inotify: Inotify,
    dirs: FxHashMap<i32, Vec<u8>>,
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
                    .insert(watch.get_watch_descriptor_id(), dir.to_vec());
                self.watched.insert(dir.to_vec());
            }
            Err(error) => warn!(
                "cannot watch '{}' for forkmon.each: {error}",
                crate::log::shown(dir)
            ),
        }
    }
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
            let Some(dir) = watch.dirs.get(&event.wd.get_watch_descriptor_id()) else {
                continue;
            };
            if let (Some(name), Some(kind)) = (event.name, crate::watcher::file_event(event.mask)) {
                let mut path = dir.clone();
                if !path.ends_with(b"/") {
                    path.push(b'/');
                }
                path.extend_from_slice(name.as_bytes());
                settle.event(&path, kind, now);
            }
        }
        if !any {
            return;
        }
    }
}
