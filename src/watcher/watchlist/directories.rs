//! The directory watches: one that ends (the directory deleted or moved
//! away) and is made again, and file contents watched late, with the
//! comparison of each file read meanwhile against its stamp.

use std::time::Instant;

use super::chain::{Checkpoint, Index};
use super::{CONTENTS_WAIT, FileEvent, Io, REWATCH_INTERVAL, Watchlist};
use crate::stamp::FileStamp;

/// How long a file created where only names were watched waits for more
/// of its writer, whose earlier writes and close went unseen: a writer that
/// pauses longer right after the creation (a download) shows as two saves.
const UNSEEN_WRITER_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// A file compared with its stamp, the stamp it was compared with, and the
/// edit found, if any.
#[derive(Debug)]
pub struct Compared {
    path: Vec<u8>,
    read: FileStamp,
    edit: Option<FileEvent>,
}

impl Watchlist {
    /// The watched directory itself was deleted or moved away.
    pub fn directory_gone(&mut self, dir_watch: i32, now: Instant) {
        let names: Vec<Vec<u8>> = self
            .files()
            .filter(|f| f.dir_watch == dir_watch)
            .map(|f| f.name().to_vec())
            .collect();
        // Said gone before the watch counts as ended (after which what it
        // tells is not taken).
        for name in &names {
            self.file_event(dir_watch, name, FileEvent::Removed, now);
        }
        if !names.is_empty() && !self.ended.contains(&dir_watch) {
            self.ended.push(dir_watch);
        }
    }

    /// Names that came into or left watched directories (`(watch, name)`):
    /// where tied files lie below such a name (a folder moved or deleted
    /// whole, a symbolic link to a folder pointed elsewhere: `ln -sfn
    /// releases/2 current`), their directories count as gone, and are
    /// looked for again at once. inotify tells nothing below the name.
    pub(super) fn entries_above_tied_directories(
        &mut self,
        entries: &[(i32, Vec<u8>)],
        now: Instant,
    ) {
        if entries.is_empty() {
            return;
        }
        let mut directories: Vec<(i32, &[u8])> = Vec::new();
        for file in self.files() {
            if !directories
                .iter()
                .any(|&(watch, _)| watch == file.dir_watch)
            {
                directories.push((file.dir_watch, crate::paths::split_parent(&file.path).0));
            }
        }
        let mut gone = Vec::new();
        for (parent_watch, name) in entries {
            let Some(&(_, parent)) = directories.iter().find(|(watch, _)| watch == parent_watch)
            else {
                continue;
            };
            let mut top = parent.to_vec();
            if !top.ends_with(b"/") {
                top.push(b'/');
            }
            top.extend_from_slice(name);
            for &(watch, dir) in &directories {
                let below = dir.strip_prefix(top.as_slice());
                if below.is_some_and(|rest| rest.is_empty() || rest.starts_with(b"/"))
                    && !gone.contains(&watch)
                {
                    gone.push(watch);
                }
            }
        }
        for watch in gone {
            self.directory_gone(watch, now);
        }
    }

    /// The directories to watch again: each ended watch that still has tied
    /// files, with the directory those files are in.
    pub fn directories_to_rewatch(&mut self) -> Vec<(i32, Vec<u8>)> {
        let dir_of = |checkpoints: &[Checkpoint], watch: i32| {
            checkpoints
                .iter()
                .flat_map(|c| c.files.iter())
                .find(|f| f.dir_watch == watch)
                .map(|f| crate::paths::split_parent(&f.path).0.to_vec())
        };
        let checkpoints = &self.checkpoints;
        self.ended
            .retain(|&watch| dir_of(checkpoints, watch).is_some());
        self.ended
            .iter()
            .filter_map(|&watch| Some((watch, dir_of(checkpoints, watch)?)))
            .collect()
    }

    /// The directory of the ended watch `old` is there again, watched as
    /// `new`: its files are watched there, and each that `exists` counts
    /// as saved anew (whatever was written before the watch went unseen).
    pub fn rewatched(&mut self, old: i32, new: i32, now: Instant, exists: impl Fn(&[u8]) -> bool) {
        self.ended.retain(|&watch| watch != old);
        self.contents_watched.insert(new);
        let mut back = Vec::new();
        for file in self.checkpoints.iter_mut().flat_map(|c| c.files.iter_mut()) {
            if file.dir_watch == old {
                file.dir_watch = new;
                file.unverified = None;
                if exists(&file.path) {
                    back.push(file.name().to_vec());
                }
            }
        }
        self.index = Index::of(&self.checkpoints);
        for name in back {
            self.file_event(new, &name, FileEvent::MovedIn, now);
        }
    }

    /// The directories whose contents are not watched yet while files read
    /// in them wait to be compared, with the directory's path.
    pub fn directories_to_watch_fully(&self) -> Vec<(i32, Vec<u8>)> {
        let mut found: Vec<(i32, Vec<u8>)> = Vec::new();
        for file in self.files() {
            let watch = file.dir_watch;
            if file.unverified.is_some()
                && !self.contents_watched.contains(&watch)
                && !self.ended.contains(&watch)
                && !found.iter().any(|(known, _)| *known == watch)
            {
                found.push((watch, crate::paths::split_parent(&file.path).0.to_vec()));
            }
        }
        found
    }

    /// The directory watch `watch` now reports file contents too.
    pub fn watching_fully(&mut self, watch: i32) {
        self.contents_watched.insert(watch);
    }

    /// The journal was just read: files it brings from now on were read
    /// after every contents watch added so far.
    pub fn looked_at_journal(&mut self) {
        self.contents_watched_before_look
            .extend(self.contents_watched.iter().copied());
    }

    /// Compares each file read before its directory's contents were watched
    /// with the file now (`stamp` of its path, `None` if it is not there).
    /// A look like an inotify event: made before the journal is read, so
    /// that the program's own write, registered before it is made, is known
    /// by the time the result is applied.
    pub fn compare_stamps(&self, stamp: impl Fn(&[u8]) -> Option<FileStamp>) -> Vec<Compared> {
        let mut compared = Vec::new();
        for file in self.files() {
            let Some(read) = file.unverified else {
                continue;
            };
            if !self.contents_watched.contains(&file.dir_watch) {
                continue;
            }
            let edit = match stamp(&file.path) {
                Some(now) if now == read => None,
                Some(_) => Some(FileEvent::MovedIn),
                None => Some(FileEvent::Removed),
            };
            compared.push(Compared {
                path: file.path.clone(),
                read,
                edit,
            });
        }
        compared
    }

    /// Takes in what [`Watchlist::compare_stamps`] found: a difference is an
    /// edit the watch came too late to see, and counts as a finished save.
    /// A file the program read again since the comparison (a resumed run
    /// attached it anew, read after the save that resumed it) is compared
    /// next time, with what it read last: the old comparison's difference
    /// was the save that run already has.
    pub fn apply_comparisons(&mut self, compared: Vec<Compared>, now: Instant) {
        for Compared { path, read, edit } in compared {
            let places = self.index.by_path.get(&path).cloned().unwrap_or_default();
            for (depth, n) in places {
                let Some(file) = self.file_mut(depth, n) else {
                    continue;
                };
                if file.unverified != Some(read) {
                    continue;
                }
                file.unverified = None;
                if let Some(event) = edit {
                    let (watch, name) = (file.dir_watch, file.name().to_vec());
                    self.file_event(watch, &name, event, now);
                }
            }
        }
    }

    /// Whether files in watched directories still wait to be compared.
    pub fn awaits_comparison(&self) -> bool {
        self.files()
            .any(|f| f.unverified.is_some() && self.contents_watched.contains(&f.dir_watch))
    }

    /// Watches again each deleted (or moved-away) directory whose files are
    /// still tied, once a directory is there again: inotify does not tell
    /// when a path comes back, so it is looked for every `REWATCH_INTERVAL`
    /// while one is missing. Returns when to look next, if any is missing.
    pub(super) fn rewatch(&mut self, io: &mut impl Io, now: Instant) -> Option<Instant> {
        let mut missing = false;
        for (old, dir) in self.directories_to_rewatch() {
            match io.watch_directory(&dir) {
                Some(new) => {
                    if new != old {
                        io.watch_replaced(old);
                    }
                    self.rewatched(old, new, now, |path| io.size(path).is_some());
                }
                None => missing = true,
            }
        }
        missing.then(|| now + REWATCH_INTERVAL)
    }

    /// Tied files created (`created`: watch and name) where only names are
    /// watched: the writer's close cannot be seen there, and each such save
    /// would wait `writer_wait` (a second) before it counted as done (a
    /// script or module the program looked for, written at last). Their
    /// directories' contents are watched at once: what the writer does
    /// after is seen, and one that shows nothing more is taken as done
    /// after [`UNSEEN_WRITER_WAIT`].
    pub(super) fn watch_contents_where_created(
        &mut self,
        created: &[(i32, Vec<u8>)],
        io: &mut impl Io,
        now: Instant,
    ) {
        for (watch, name) in created {
            if self.contents_watched.contains(watch) || self.ended.contains(watch) {
                continue;
            }
            let Some(&(depth, n)) = self
                .index
                .by_event
                .get(watch)
                .and_then(|names| names.get(name.as_slice()))
            else {
                continue;
            };
            let Some(dir) = self
                .file_mut(depth, n)
                .map(|file| crate::paths::split_parent(&file.path).0.to_vec())
            else {
                continue;
            };
            // Another watch: the directory at that path is another one now,
            // which the look for ended watches takes care of.
            if io.watch_directory(&dir) != Some(*watch) {
                continue;
            }
            self.watching_fully(*watch);
            // A writer still at work shows from now on; one that paused
            // just after the creation gets UNSEEN_WRITER_WAIT, not the whole
            // writer wait.
            let shortened = self.timing.writer_wait.saturating_sub(UNSEEN_WRITER_WAIT);
            for file in self.checkpoints.iter_mut().flat_map(|c| c.files.iter_mut()) {
                if file.dir_watch == *watch
                    && let Some(change) = file.change.as_mut().filter(|c| c.writing)
                {
                    change.last = now.checked_sub(shortened).unwrap_or(now);
                }
            }
        }
    }

    /// A checkpointing process watches a new directory only for names
    /// coming and going: a watch on file contents would tax every open,
    /// read and close the program makes in there (inotify's parent check,
    /// about 0.6 µs per file read, a tenth of the start-up of an app of many
    /// small modules). The contents are watched once the program's burst of
    /// reads is over (a look at the journal found nothing), or after
    /// `CONTENTS_WAIT` at the latest; each file read meanwhile is then
    /// compared with its stamp.
    pub(super) fn watch_contents(&mut self, io: &mut impl Io, batching: bool, now: Instant) {
        let directories = self.directories_to_watch_fully();
        if directories.is_empty() {
            self.contents_unwatched_since = None;
            return;
        }
        let since = *self.contents_unwatched_since.get_or_insert(now);
        if batching && now.saturating_duration_since(since) < CONTENTS_WAIT {
            return;
        }
        for (watch, dir) in directories {
            // Whatever came of it, the files are compared now: a directory
            // replaced or gone in between shows as files that changed.
            let _ = io.watch_directory(&dir);
            self.watching_fully(watch);
        }
        self.contents_unwatched_since = None;
    }
}
