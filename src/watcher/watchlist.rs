//! The watcher's bookkeeping, free of system calls: which checkpoints exist,
//! what happened to their files, and when a save has settled enough to
//! resume.
//!
//! A save has settled when (1) no writer still has the file open (inotify
//! reports the close, or a rename put a finished file in place), (2) the file
//! exists, and (3) no further event came for `restart_delay`. Everything that
//! settles together is one resume, from the earliest checkpoint among the
//! changed files.

use std::collections::HashSet;

use rustc_hash::FxHashMap;
use std::time::{Duration, Instant};

use crate::channel::Timing;
use crate::channel::protocol::{Kind, Link, Registration};
use crate::stamp::FileStamp;

/// What inotify said about a watched name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileEvent {
    /// Content written (IN_MODIFY): a writer has it open.
    Written,
    /// A writer closed it (IN_CLOSE_WRITE).
    Closed,
    /// Created in place (IN_CREATE): a writer usually still has it open.
    Created,
    /// A finished file renamed onto the name (IN_MOVED_TO).
    MovedIn,
    /// Deleted or renamed away (IN_DELETE, IN_MOVED_FROM).
    Removed,
    /// Metadata changed (IN_ATTRIB): `touch` counts as an edit.
    Touched,
}

#[derive(Debug)]
struct Change {
    writing: bool,
    gone: bool,
    gone_reported: bool,
    last: Instant,
}

/// A file whose change resumes from its checkpoint.
#[derive(Debug)]
struct WatchedFile {
    dir_watch: i32,
    path: Vec<u8>,
    change: Option<Change>,
    /// The program itself is writing the file: its events are no edit until
    /// it closes it (or stays silent for `writer_wait`). The time of the
    /// last such event.
    own_write: Option<Instant>,
    /// The file as the program read it, until its directory's contents are
    /// watched and it was compared with the file then.
    unverified: Option<FileStamp>,
}

impl WatchedFile {
    fn name(&self) -> &[u8] {
        crate::paths::split_parent(&self.path).1
    }
}

/// A holder and the files tied to it: the one read at the checkpoint first,
/// then any the program attached later (`forkmon.watch`).
#[derive(Debug)]
struct Checkpoint {
    link: Link,
    files: Vec<WatchedFile>,
    /// The program's start-up work before this checkpoint.
    skips: Duration,
}

impl Checkpoint {
    fn path(&self) -> &[u8] {
        self.files
            .first()
            .map(|f| f.path.as_slice())
            .unwrap_or_default()
    }
}

/// Tell holder `holder` (checkpoint number `depth`, from 0) to resume; this is
/// resume number `number` of the session.
#[derive(Debug, PartialEq, Eq)]
pub struct Resume {
    pub holder: i32,
    pub depth: usize,
    pub number: u64,
    pub from: Vec<u8>,
    pub changed: Vec<Vec<u8>>,
    /// The start-up work the resume skips.
    pub skips: Duration,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub resume: Option<Resume>,
    /// Files found deleted, reported once each.
    pub gone: Vec<Vec<u8>>,
    /// When to look again if nothing else happens.
    pub next: Option<Instant>,
}

/// Where each watched file is, as (checkpoint, file) positions: a program
/// may watch 10,000 files, and a scan per registration or event would grow
/// with their square.
#[derive(Debug, Default)]
struct Index {
    /// By what inotify reports: the directory's watch and the name. The
    /// earliest checkpoint a file is tied to takes its events. Fx, not
    /// SipHash: every record of the journal is looked up here (the paths
    /// come from the program, not from an attacker).
    by_event: FxHashMap<i32, FxHashMap<Vec<u8>, (usize, usize)>>,
    by_path: FxHashMap<Vec<u8>, Vec<(usize, usize)>>,
}

impl Index {
    fn add(&mut self, at: (usize, usize), file: &WatchedFile) {
        self.by_event
            .entry(file.dir_watch)
            .or_default()
            .entry(file.name().to_vec())
            .or_insert(at);
        self.by_path.entry(file.path.clone()).or_default().push(at);
    }

    /// Forgets the files of `dropped`, the checkpoints from depth `kept` on.
    fn remove(&mut self, kept: usize, dropped: &[Checkpoint]) {
        for file in dropped.iter().flat_map(|c| c.files.iter()) {
            if let Some(names) = self.by_event.get_mut(&file.dir_watch) {
                if names
                    .get(file.name())
                    .is_some_and(|&(depth, _)| depth >= kept)
                {
                    names.remove(file.name());
                }
            }
            if let Some(places) = self.by_path.get_mut(&file.path) {
                places.retain(|&(depth, _)| depth < kept);
                if places.is_empty() {
                    self.by_path.remove(&file.path);
                }
            }
        }
    }

    fn of(checkpoints: &[Checkpoint]) -> Index {
        let mut index = Index::default();
        for (depth, checkpoint) in checkpoints.iter().enumerate() {
            for (n, file) in checkpoint.files.iter().enumerate() {
                index.add((depth, n), file);
            }
        }
        index
    }
}

#[derive(Debug)]
pub struct Watchlist {
    checkpoints: Vec<Checkpoint>,
    index: Index,
    /// Directory watches that ended (the directory deleted or moved away)
    /// while files of theirs are tied: a directory may be made anew there.
    ended: Vec<i32>,
    /// Directory watches that report file contents (writes, closes,
    /// `touch`), not only names coming and going.
    contents_watched: HashSet<i32>,
    /// Those of them that did so before the latest look at the journal: a
    /// file registered at the next look was read after that, with its
    /// events watched, and needs no comparison.
    contents_watched_before_look: HashSet<i32>,
    timing: Timing,
    ignore_until: Option<Instant>,
    resumes: u64,
    /// The checkpoints from this depth on belong to a run a resume just
    /// replaced: they are dropped once the resume order is out
    /// ([`Watchlist::drop_replaced`]), since forgetting thousands of files
    /// would delay the order.
    replaced_from: Option<usize>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Stale;

/// A file compared with its stamp, and the edit found, if any.
#[derive(Debug)]
pub struct Compared {
    path: Vec<u8>,
    edit: Option<FileEvent>,
}

impl Watchlist {
    pub fn new(timing: Timing) -> Watchlist {
        Watchlist {
            checkpoints: Vec::new(),
            index: Index::default(),
            ended: Vec::new(),
            contents_watched: HashSet::new(),
            contents_watched_before_look: HashSet::new(),
            timing,
            ignore_until: None,
            resumes: 0,
            replaced_from: None,
        }
    }

    /// Drops the checkpoints of the run the last resume replaced.
    pub fn drop_replaced(&mut self) {
        if let Some(kept) = self.replaced_from.take() {
            self.truncate(kept);
        }
    }

    /// Keeps the first `kept` checkpoints.
    fn truncate(&mut self, kept: usize) {
        if kept < self.checkpoints.len() {
            let dropped = self.checkpoints.split_off(kept);
            self.index.remove(kept, &dropped);
        }
    }

    pub fn len(&self) -> usize {
        self.checkpoints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.checkpoints.is_empty()
    }

    /// Adds a checkpoint at the end of the chain, attaches a file to the last
    /// one, or withdraws the last one. Refuses a message from a process that
    /// is not the end of the current chain: one a resume has replaced (its
    /// holders' generations are old), or a copy the program forked by itself.
    pub fn register(&mut self, registration: Registration) -> Result<(), Stale> {
        self.drop_replaced();
        let Some((&new, parents)) = registration.lineage.split_last() else {
            return Err(Stale);
        };
        let chain_is = |links: &[Link], checkpoints: &[Checkpoint]| {
            checkpoints.len() == links.len()
                && checkpoints.iter().map(|c| c.link).eq(links.iter().copied())
        };
        let file = WatchedFile {
            dir_watch: registration.dir_watch,
            path: registration.path,
            change: None,
            own_write: None,
            unverified: registration.stamp.filter(|_| {
                !self
                    .contents_watched_before_look
                    .contains(&registration.dir_watch)
            }),
        };
        match registration.kind {
            Kind::Checkpoint if chain_is(parents, &self.checkpoints) => {
                let skips = Duration::from_micros(registration.elapsed_micros);
                self.index.add((self.checkpoints.len(), 0), &file);
                self.checkpoints.push(Checkpoint {
                    link: new,
                    files: vec![file],
                    skips,
                });
            }
            Kind::Withdraw if chain_is(&registration.lineage, &self.checkpoints) => {
                self.truncate(self.checkpoints.len() - 1);
            }
            Kind::OwnWrite if chain_is(&registration.lineage, &self.checkpoints) => {
                let now = Instant::now();
                let places = self.index.by_path.get(&file.path).cloned();
                for (depth, n) in places.into_iter().flatten() {
                    if let Some(watched) = self.file_mut(depth, n) {
                        watched.own_write = Some(now);
                        // The program's own write makes what it read moot.
                        watched.unverified = None;
                    }
                }
            }
            Kind::Attach if chain_is(&registration.lineage, &self.checkpoints) => {
                let depth = self.checkpoints.len() - 1;
                let places = self.index.by_path.get(&file.path).into_iter().flatten();
                // A resumed run attaches again what the replaced run attached:
                // what it read now is what a comparison must start from.
                let known = places.into_iter().find(|&&(d, _)| d == depth).copied();
                match (known, self.checkpoints.last_mut()) {
                    (Some((_, n)), Some(last)) => {
                        if let Some(watched) = last.files.get_mut(n) {
                            if watched.unverified.is_some() {
                                watched.unverified = file.unverified;
                            }
                        }
                    }
                    (None, Some(last)) => {
                        self.index.add((depth, last.files.len()), &file);
                        last.files.push(file);
                    }
                    (_, None) => {}
                }
            }
            _ => return Err(Stale),
        }
        Ok(())
    }

    pub fn file_event(&mut self, dir_watch: i32, name: &[u8], event: FileEvent, now: Instant) {
        if self.ignore_until.is_some_and(|until| now < until) {
            return;
        }
        let Some(&(depth, n)) = self
            .index
            .by_event
            .get(&dir_watch)
            .and_then(|names| names.get(name))
        else {
            return;
        };
        let writer_wait = self.timing.writer_wait;
        let Some(file) = self.file_mut(depth, n) else {
            return;
        };
        if let Some(since) = file.own_write {
            if now.saturating_duration_since(since) < writer_wait {
                file.own_write = (event != FileEvent::Closed).then_some(now);
                return;
            }
            file.own_write = None;
        }
        if event == FileEvent::Closed && file.change.is_none() {
            // Opened for writing and closed without a write: nothing changed.
            return;
        }
        let change = file.change.get_or_insert(Change {
            writing: false,
            gone: false,
            gone_reported: false,
            last: now,
        });
        change.last = now;
        match event {
            FileEvent::Written | FileEvent::Created => {
                change.writing = true;
                change.gone = false;
            }
            FileEvent::Closed => change.writing = false,
            FileEvent::MovedIn => {
                change.writing = false;
                change.gone = false;
            }
            FileEvent::Removed => {
                change.writing = false;
                change.gone = true;
            }
            FileEvent::Touched => {}
        }
    }

    fn file_mut(&mut self, depth: usize, n: usize) -> Option<&mut WatchedFile> {
        self.checkpoints.get_mut(depth)?.files.get_mut(n)
    }

    /// The watched directory itself was deleted or moved away.
    pub fn directory_gone(&mut self, dir_watch: i32, now: Instant) {
        let names: Vec<Vec<u8>> = self
            .files()
            .filter(|f| f.dir_watch == dir_watch)
            .map(|f| f.name().to_vec())
            .collect();
        if !names.is_empty() && !self.ended.contains(&dir_watch) {
            self.ended.push(dir_watch);
        }
        for name in names {
            self.file_event(dir_watch, &name, FileEvent::Removed, now);
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
                edit,
            });
        }
        compared
    }

    /// Takes in what [`Watchlist::compare_stamps`] found: a difference is an
    /// edit the watch came too late to see, and counts as a finished save.
    pub fn apply_comparisons(&mut self, compared: Vec<Compared>, now: Instant) {
        for Compared { path, edit } in compared {
            let places = self.index.by_path.get(&path).cloned().unwrap_or_default();
            for (depth, n) in places {
                let Some(file) = self.file_mut(depth, n) else {
                    continue;
                };
                if file.unverified.take().is_none() {
                    continue;
                }
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

    fn files(&self) -> impl Iterator<Item = &WatchedFile> {
        self.checkpoints.iter().flat_map(|c| c.files.iter())
    }

    /// Decides, at `now`, whether to resume. `size` tells a file's size now,
    /// or `None` if it is not there (a removed file may have come back
    /// unseen). A file found empty waits like one a writer still has open:
    /// it is most likely truncated by a save whose write is still to come.
    pub fn settle(&mut self, now: Instant, size: impl Fn(&[u8]) -> Option<u64>) -> Outcome {
        let mut outcome = Outcome::default();
        let pending = || {
            self.checkpoints
                .iter()
                .flat_map(|c| c.files.iter())
                .filter_map(|f| f.change.as_ref())
        };
        let Some(latest) = pending().map(|c| c.last).max() else {
            return outcome;
        };
        let quiet_from = latest + self.timing.restart_delay;
        if now < quiet_from {
            outcome.next = Some(quiet_from);
            return outcome;
        }
        let unfinished = |file: &WatchedFile, change: &Change| {
            change.writing || (!change.gone && size(&file.path) == Some(0))
        };
        let writer_deadline = self
            .checkpoints
            .iter()
            .flat_map(|c| c.files.iter())
            .filter_map(|f| f.change.as_ref().filter(|c| unfinished(f, c)))
            .map(|c| c.last + self.timing.writer_wait)
            .filter(|deadline| now < *deadline)
            .min();
        if writer_deadline.is_some() {
            outcome.next = writer_deadline;
            return outcome;
        }
        let mut earliest = None;
        for (depth, checkpoint) in self.checkpoints.iter_mut().enumerate() {
            let (link, from, skips) = (
                checkpoint.link,
                checkpoint.path().to_vec(),
                checkpoint.skips,
            );
            for file in &mut checkpoint.files {
                let Some(change) = file.change.as_mut() else {
                    continue;
                };
                if change.gone && size(&file.path).is_none() {
                    if !change.gone_reported {
                        change.gone_reported = true;
                        outcome.gone.push(file.path.clone());
                    }
                    continue;
                }
                earliest.get_or_insert(depth);
                let resume = outcome.resume.get_or_insert_with(|| Resume {
                    holder: link.holder,
                    depth,
                    number: 0,
                    from: from.clone(),
                    changed: Vec::new(),
                    skips,
                });
                resume.changed.push(file.path.clone());
                file.change = None;
            }
        }
        if let Some(depth) = earliest {
            self.start_resume(depth, now, &mut outcome);
        }
        outcome
    }

    /// The holder at `depth` is gone: drop it and the checkpoints after it,
    /// and resume from the one before it, if any.
    pub fn holder_gone(
        &mut self,
        depth: usize,
        changed: Vec<Vec<u8>>,
        now: Instant,
    ) -> Option<Resume> {
        self.drop_replaced();
        self.truncate(depth);
        let before = depth.checked_sub(1)?;
        let checkpoint = self.checkpoints.get(before)?;
        let mut outcome = Outcome {
            resume: Some(Resume {
                holder: checkpoint.link.holder,
                depth: before,
                number: 0,
                from: checkpoint.path().to_vec(),
                changed,
                skips: checkpoint.skips,
            }),
            ..Outcome::default()
        };
        self.start_resume(before, now, &mut outcome);
        outcome.resume
    }

    fn start_resume(&mut self, depth: usize, now: Instant, outcome: &mut Outcome) {
        self.resumes += 1;
        if self.checkpoints.len() > depth + 1 {
            self.replaced_from = Some(depth + 1);
        }
        if let Some(checkpoint) = self.checkpoints.get_mut(depth) {
            checkpoint.link.generation = self.resumes;
        }
        if let Some(resume) = outcome.resume.as_mut() {
            resume.number = self.resumes;
        }
        if !self.timing.ignore_delay.is_zero() {
            self.ignore_until = Some(now + self.timing.ignore_delay);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FileEvent::*;

    const MS: Duration = Duration::from_millis(1);

    fn timing() -> Timing {
        Timing {
            restart_delay: 10 * MS,
            ignore_delay: Duration::ZERO,
            writer_wait: 1000 * MS,
        }
    }

    /// The holders of the three checkpoints of `three()`, as a lineage.
    fn holders_of_three() -> Vec<Link> {
        (100..103)
            .map(|holder| Link {
                holder,
                generation: 0,
            })
            .collect()
    }

    /// Checkpoints for a.lua, b.lua, c.lua in /app (dir watch 1), holders
    /// 100, 101, 102.
    fn three() -> Watchlist {
        let mut list = Watchlist::new(timing());
        let mut lineage = Vec::new();
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            lineage.push(Link {
                holder: 100 + i as i32,
                generation: 0,
            });
            let path = format!("/app/{name}.lua").into_bytes();
            list.register(Registration {
                kind: Kind::Checkpoint,
                lineage: lineage.clone(),
                dir_watch: 1,
                path,
                elapsed_micros: 0,
                stamp: None,
            })
            .expect("fresh");
        }
        list
    }

    /// Every file is there, with content.
    fn always(_: &[u8]) -> Option<u64> {
        Some(10)
    }

    #[test]
    fn a_directory_made_anew_is_watched_again_and_its_files_count_as_saved() {
        let mut list = three();
        let t0 = Instant::now();
        assert!(list.directories_to_rewatch().is_empty());
        list.directory_gone(1, t0);
        let gone = list.settle(t0 + 20 * MS, |_| None);
        assert_eq!(gone.gone.len(), 3);
        assert!(gone.resume.is_none());
        // Still missing: looked for again, nothing else happens.
        assert_eq!(list.directories_to_rewatch(), [(1, b"/app".to_vec())]);
        // Back, as watch 7, with only b.lua in it.
        list.rewatched(1, 7, t0 + 30 * MS, |path| path == b"/app/b.lua");
        assert!(list.directories_to_rewatch().is_empty());
        let resume = list.settle(t0 + 50 * MS, |path| (path == b"/app/b.lua").then_some(10));
        let resume = resume.resume.expect("b.lua is back");
        assert_eq!((resume.holder, resume.depth), (101, 1));
        assert_eq!(resume.changed, vec![b"/app/b.lua".to_vec()]);
        // As the event loop does once the order is out.
        list.drop_replaced();
        // a.lua still waits, and its events now come from watch 7.
        list.file_event(7, b"a.lua", MovedIn, t0 + 60 * MS);
        let resume = list.settle(t0 + 80 * MS, always).resume.expect("a.lua");
        assert_eq!(resume.changed, vec![b"/app/a.lua".to_vec()]);
    }

    #[test]
    fn write_in_place_resumes_once_after_the_close_and_the_quiet_window() {
        let mut list = three();
        let t0 = Instant::now();
        list.file_event(1, b"b.lua", Written, t0);
        assert_eq!(list.settle(t0 + 5 * MS, always).next, Some(t0 + 10 * MS));
        // Still open for writing: wait for the writer.
        assert!(list.settle(t0 + 20 * MS, always).resume.is_none());
        list.file_event(1, b"b.lua", Closed, t0 + 30 * MS);
        assert!(list.settle(t0 + 35 * MS, always).resume.is_none());
        let resume = list.settle(t0 + 40 * MS, always).resume.expect("settled");
        assert_eq!((resume.holder, resume.depth, resume.number), (101, 1, 1));
        assert_eq!(resume.changed, vec![b"/app/b.lua".to_vec()]);
        assert_eq!(list.len(), 3, "dropped only once the order is out");
        list.drop_replaced();
        assert_eq!(list.len(), 2, "checkpoints after b belonged to the old run");
        assert_eq!(list.settle(t0 + 100 * MS, always), Outcome::default());
    }

    #[test]
    fn rename_over_delete_recreate_each_settle_to_one_resume() {
        for events in [
            vec![MovedIn],
            vec![Removed, Created, Written, Closed, Touched],
            vec![Removed, MovedIn],
            vec![Written, Written, Closed],
        ] {
            let mut list = three();
            let t0 = Instant::now();
            for (i, event) in events.iter().enumerate() {
                list.file_event(1, b"c.lua", *event, t0 + i as u32 * MS);
            }
            let resume = list.settle(t0 + 50 * MS, always).resume.expect("settled");
            assert_eq!(resume.depth, 2, "{events:?}");
            assert!(
                list.settle(t0 + 100 * MS, always).resume.is_none(),
                "{events:?}"
            );
        }
    }

    #[test]
    fn a_file_left_empty_waits_for_its_content() {
        let mut list = three();
        let t0 = Instant::now();
        // Truncated and closed; the write comes through a second open.
        list.file_event(1, b"b.lua", Written, t0);
        list.file_event(1, b"b.lua", Closed, t0);
        let empty = |_: &[u8]| Some(0);
        assert_eq!(list.settle(t0 + 20 * MS, empty).next, Some(t0 + 1000 * MS));
        list.file_event(1, b"b.lua", Written, t0 + 30 * MS);
        list.file_event(1, b"b.lua", Closed, t0 + 30 * MS);
        assert!(list.settle(t0 + 45 * MS, always).resume.is_some());
        // A file that stays empty is taken as it is, after the wait.
        list.file_event(1, b"b.lua", Written, t0 + 100 * MS);
        list.file_event(1, b"b.lua", Closed, t0 + 100 * MS);
        assert!(list.settle(t0 + 200 * MS, empty).resume.is_none());
        assert!(list.settle(t0 + 1100 * MS, empty).resume.is_some());
    }

    #[test]
    fn the_programs_own_write_is_no_edit_but_the_next_one_is() {
        let mut list = three();
        let lineage = holders_of_three();
        let path = b"/app/b.lua".to_vec();
        let own = Registration {
            kind: Kind::OwnWrite,
            lineage,
            dir_watch: 0,
            path,
            elapsed_micros: 0,
            stamp: None,
        };
        assert_eq!(list.register(own), Ok(()));
        let t0 = Instant::now();
        list.file_event(1, b"b.lua", Written, t0);
        list.file_event(1, b"b.lua", Closed, t0);
        assert_eq!(list.settle(t0 + 50 * MS, always), Outcome::default());
        list.file_event(1, b"b.lua", MovedIn, t0 + 60 * MS);
        assert!(list.settle(t0 + 80 * MS, always).resume.is_some());
    }

    #[test]
    fn a_close_without_a_write_is_no_change() {
        let mut list = three();
        let t0 = Instant::now();
        list.file_event(1, b"a.lua", Closed, t0);
        assert_eq!(list.settle(t0 + 50 * MS, always), Outcome::default());
    }

    #[test]
    fn changes_together_resume_once_from_the_earliest() {
        let mut list = three();
        let t0 = Instant::now();
        list.file_event(1, b"c.lua", MovedIn, t0);
        list.file_event(1, b"b.lua", MovedIn, t0 + 5 * MS);
        let resume = list.settle(t0 + 15 * MS, always).resume.expect("settled");
        assert_eq!(resume.depth, 1);
        assert_eq!(
            resume.changed,
            vec![b"/app/b.lua".to_vec(), b"/app/c.lua".to_vec()]
        );
        assert!(list.settle(t0 + 100 * MS, always).resume.is_none());
    }

    #[test]
    fn a_deleted_file_is_reported_once_and_waits() {
        let mut list = three();
        let t0 = Instant::now();
        list.file_event(1, b"b.lua", Removed, t0);
        let never = |_: &[u8]| None;
        let first = list.settle(t0 + 20 * MS, never);
        assert_eq!(first.gone, vec![b"/app/b.lua".to_vec()]);
        assert!(first.resume.is_none());
        assert_eq!(list.settle(t0 + 40 * MS, never), Outcome::default());
        list.file_event(1, b"b.lua", MovedIn, t0 + 50 * MS);
        assert_eq!(
            list.settle(t0 + 60 * MS, never).resume.map(|r| r.depth),
            Some(1)
        );
    }

    #[test]
    fn a_writer_that_never_closes_is_taken_as_done_after_the_wait() {
        let mut list = three();
        let t0 = Instant::now();
        list.file_event(1, b"a.lua", Written, t0);
        assert_eq!(list.settle(t0 + 20 * MS, always).next, Some(t0 + 1000 * MS));
        assert!(list.settle(t0 + 1000 * MS, always).resume.is_some());
    }

    #[test]
    fn stale_registrations_from_a_replaced_run_are_refused() {
        let mut list = three();
        let t0 = Instant::now();
        list.file_event(1, b"a.lua", MovedIn, t0);
        let resume = list.settle(t0 + 20 * MS, always).resume.expect("settled");
        assert_eq!(resume.number, 1);
        // The killed run's child of holder 100 still had generation 0.
        let stale = Registration {
            kind: Kind::Checkpoint,
            lineage: vec![
                Link {
                    holder: 100,
                    generation: 0,
                },
                Link {
                    holder: 555,
                    generation: 0,
                },
            ],
            dir_watch: 1,
            path: b"/app/b.lua".to_vec(),
            elapsed_micros: 0,
            stamp: None,
        };
        assert_eq!(list.register(stale), Err(Stale));
        let fresh = Registration {
            kind: Kind::Checkpoint,
            lineage: vec![
                Link {
                    holder: 100,
                    generation: 1,
                },
                Link {
                    holder: 556,
                    generation: 0,
                },
            ],
            dir_watch: 1,
            path: b"/app/b.lua".to_vec(),
            elapsed_micros: 0,
            stamp: None,
        };
        assert_eq!(list.register(fresh), Ok(()));
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn only_the_end_of_the_chain_may_register_or_withdraw() {
        let mut list = three();
        let link = |holder| Link {
            holder,
            generation: 0,
        };
        let message = |kind, lineage: Vec<Link>| Registration {
            kind,
            lineage,
            dir_watch: 1,
            path: b"/app/x.lua".to_vec(),
            elapsed_micros: 0,
            stamp: None,
        };
        // A copy the program forked by itself after b.lua, not a holder's child.
        let fork = message(Kind::Checkpoint, vec![link(100), link(101), link(900)]);
        assert_eq!(list.register(fork), Err(Stale));
        assert_eq!(list.len(), 3);
        let withdraw = message(Kind::Withdraw, vec![link(100), link(101)]);
        assert_eq!(
            list.register(withdraw),
            Err(Stale),
            "not the last checkpoint"
        );
        let withdraw = message(Kind::Withdraw, vec![link(100), link(101), link(102)]);
        assert_eq!(list.register(withdraw), Ok(()));
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn an_attached_file_resumes_from_its_checkpoint() {
        let mut list = three();
        let lineage = holders_of_three();
        let level = b"/data/level.json".to_vec();
        let attach = Registration {
            kind: Kind::Attach,
            lineage,
            dir_watch: 2,
            path: level,
            elapsed_micros: 0,
            stamp: None,
        };
        assert_eq!(list.register(attach), Ok(()));
        let t0 = Instant::now();
        list.file_event(2, b"level.json", MovedIn, t0);
        let resume = list.settle(t0 + 20 * MS, always).resume.expect("settled");
        assert_eq!(
            (resume.depth, resume.from.as_slice()),
            (2, &b"/app/c.lua"[..])
        );
        assert_eq!(resume.changed, vec![b"/data/level.json".to_vec()]);
    }

    #[test]
    fn a_file_of_a_replaced_run_is_watched_again_when_the_new_run_reads_it() {
        let mut list = three();
        let attach = |lineage: Vec<Link>| Registration {
            kind: Kind::Attach,
            lineage,
            dir_watch: 1,
            path: b"/app/a.lua".to_vec(),
            elapsed_micros: 0,
            stamp: None,
        };
        // a.lua is tied to a's checkpoint, and again (read later by the
        // run) to c's: a's, the earliest, takes its events.
        assert_eq!(list.register(attach(holders_of_three())), Ok(()));
        let t0 = Instant::now();
        list.file_event(1, b"c.lua", MovedIn, t0);
        let resume = list.settle(t0 + 20 * MS, always).resume.expect("c.lua");
        assert_eq!((resume.depth, resume.number), (2, 1));
        list.drop_replaced();
        // b.lua saved: the run from b's checkpoint replaces c's.
        list.file_event(1, b"b.lua", MovedIn, t0 + 30 * MS);
        let resume = list.settle(t0 + 50 * MS, always).resume.expect("b.lua");
        assert_eq!((resume.depth, resume.number), (1, 2));
        list.drop_replaced();
        assert_eq!(list.len(), 2);
        // c.lua, forgotten with its checkpoint, is no longer watched...
        list.file_event(1, b"c.lua", MovedIn, t0 + 60 * MS);
        assert_eq!(list.settle(t0 + 80 * MS, always), Outcome::default());
        // ...until the new run reads it again; a.lua still resumes from a.
        let mut lineage = holders_of_three();
        lineage.truncate(2);
        lineage[1].generation = 2;
        let c = Registration {
            path: b"/app/c.lua".to_vec(),
            ..attach(lineage.clone())
        };
        assert_eq!(list.register(c), Ok(()));
        list.file_event(1, b"c.lua", MovedIn, t0 + 90 * MS);
        let resume = list.settle(t0 + 110 * MS, always).resume.expect("c again");
        assert_eq!(
            (resume.depth, resume.changed),
            (1, vec![b"/app/c.lua".to_vec()])
        );
        list.file_event(1, b"a.lua", MovedIn, t0 + 120 * MS);
        let resume = list.settle(t0 + 140 * MS, always).resume.expect("a.lua");
        assert_eq!(resume.depth, 0);
    }

    #[test]
    fn a_dead_holder_falls_back_to_the_checkpoint_before_it() {
        let mut list = three();
        let t0 = Instant::now();
        let resume = list
            .holder_gone(2, vec![b"/app/c.lua".to_vec()], t0)
            .expect("b remains");
        assert_eq!((resume.holder, resume.depth, resume.number), (101, 1, 1));
        assert_eq!(list.len(), 2);
        assert!(
            Watchlist::new(timing())
                .holder_gone(0, vec![], t0)
                .is_none()
        );
    }

    #[test]
    fn the_ignore_delay_drops_changes_right_after_a_resume() {
        let mut list = Watchlist::new(Timing {
            ignore_delay: 200 * MS,
            ..timing()
        });
        let link = Link {
            holder: 1,
            generation: 0,
        };
        let path = b"/app/a.lua".to_vec();
        list.register(Registration {
            kind: Kind::Checkpoint,
            lineage: vec![link],
            dir_watch: 1,
            path,
            elapsed_micros: 0,
            stamp: None,
        })
        .expect("fresh");
        let t0 = Instant::now();
        list.file_event(1, b"a.lua", MovedIn, t0);
        assert!(list.settle(t0 + 10 * MS, always).resume.is_some());
        list.file_event(1, b"a.lua", MovedIn, t0 + 100 * MS);
        assert!(list.settle(t0 + 150 * MS, always).resume.is_none());
        list.file_event(1, b"a.lua", MovedIn, t0 + 300 * MS);
        assert!(list.settle(t0 + 310 * MS, always).resume.is_some());
    }

    fn stamp(size: i64) -> FileStamp {
        FileStamp {
            device: 1,
            inode: 2,
            size,
            modified: (3, 4),
            changed: (5, 6),
        }
    }

    /// a.lua's checkpoint with b.lua attached, both read with size 10, in
    /// /app (dir watch 1), whose contents are not watched yet.
    fn read_before_the_contents_were_watched() -> Watchlist {
        let mut list = Watchlist::new(timing());
        let lineage = vec![Link {
            holder: 100,
            generation: 0,
        }];
        for (kind, name) in [(Kind::Checkpoint, "a"), (Kind::Attach, "b")] {
            list.register(Registration {
                kind,
                lineage: lineage.clone(),
                dir_watch: 1,
                path: format!("/app/{name}.lua").into_bytes(),
                elapsed_micros: 0,
                stamp: Some(stamp(10)),
            })
            .expect("fresh");
        }
        list
    }

    #[test]
    fn a_file_changed_before_its_contents_were_watched_resumes_once() {
        let mut list = read_before_the_contents_were_watched();
        let b_edited = |path: &[u8]| Some(stamp(if path == b"/app/b.lua" { 12 } else { 10 }));
        // Not compared while the directory's contents are not watched.
        assert!(list.compare_stamps(b_edited).is_empty());
        assert_eq!(list.directories_to_watch_fully(), [(1, b"/app".to_vec())]);
        list.watching_fully(1);
        assert!(list.directories_to_watch_fully().is_empty());
        assert!(list.awaits_comparison());
        let t0 = Instant::now();
        let compared = list.compare_stamps(b_edited);
        list.apply_comparisons(compared, t0);
        assert!(!list.awaits_comparison());
        let resume = list.settle(t0 + 20 * MS, always).resume.expect("b.lua");
        assert_eq!(resume.changed, vec![b"/app/b.lua".to_vec()]);
        // Compared once only.
        let compared = list.compare_stamps(b_edited);
        list.apply_comparisons(compared, t0 + 30 * MS);
        assert_eq!(list.settle(t0 + 60 * MS, always), Outcome::default());
    }

    #[test]
    fn a_file_the_program_wrote_itself_is_not_compared() {
        let mut list = read_before_the_contents_were_watched();
        list.watching_fully(1);
        let written = |_: &[u8]| Some(stamp(99));
        // Looked at before the program's registration was read...
        let compared = list.compare_stamps(written);
        list.register(Registration {
            kind: Kind::OwnWrite,
            lineage: vec![Link {
                holder: 100,
                generation: 0,
            }],
            dir_watch: 0,
            path: b"/app/b.lua".to_vec(),
            elapsed_micros: 0,
            stamp: None,
        })
        .expect("fresh");
        // ...and applied after: only a.lua counts as edited.
        let t0 = Instant::now();
        list.apply_comparisons(compared, t0);
        let resume = list.settle(t0 + 20 * MS, always).resume.expect("a.lua");
        assert_eq!(resume.changed, vec![b"/app/a.lua".to_vec()]);
    }

    #[test]
    fn a_file_gone_before_its_contents_were_watched_waits_for_it() {
        let mut list = read_before_the_contents_were_watched();
        list.watching_fully(1);
        let t0 = Instant::now();
        let compared = list.compare_stamps(|path| (path == b"/app/b.lua").then(|| stamp(10)));
        list.apply_comparisons(compared, t0);
        let outcome = list.settle(t0 + 20 * MS, |path| (path == b"/app/b.lua").then_some(10));
        assert_eq!(outcome.gone, vec![b"/app/a.lua".to_vec()]);
        assert!(outcome.resume.is_none());
    }

    #[test]
    fn a_file_read_after_its_contents_were_watched_is_not_compared() {
        let mut list = Watchlist::new(timing());
        list.watching_fully(1);
        let register = |list: &mut Watchlist, holder| {
            list.register(Registration {
                kind: Kind::Checkpoint,
                lineage: (100..=holder)
                    .map(|holder| Link {
                        holder,
                        generation: 0,
                    })
                    .collect(),
                dir_watch: 1,
                path: format!("/app/{holder}.lua").into_bytes(),
                elapsed_micros: 0,
                stamp: Some(stamp(10)),
            })
            .expect("fresh");
        };
        // Registered at the look right after the watch was added: it may
        // have been read just before.
        register(&mut list, 100);
        assert!(list.awaits_comparison());
        list.looked_at_journal();
        let compared = list.compare_stamps(|_| Some(stamp(10)));
        list.apply_comparisons(compared, Instant::now());
        // At a later look: read with the contents watched.
        register(&mut list, 101);
        assert!(!list.awaits_comparison());
    }

    #[test]
    fn a_file_attached_again_is_compared_with_what_was_read_last() {
        let mut list = read_before_the_contents_were_watched();
        // A resumed run reads b.lua again, as it is now (size 12).
        list.register(Registration {
            kind: Kind::Attach,
            lineage: vec![Link {
                holder: 100,
                generation: 0,
            }],
            dir_watch: 1,
            path: b"/app/b.lua".to_vec(),
            elapsed_micros: 0,
            stamp: Some(stamp(12)),
        })
        .expect("fresh");
        list.watching_fully(1);
        let t0 = Instant::now();
        let as_read_last = |path: &[u8]| Some(stamp(if path == b"/app/b.lua" { 12 } else { 10 }));
        let compared = list.compare_stamps(as_read_last);
        list.apply_comparisons(compared, t0);
        assert_eq!(list.settle(t0 + 20 * MS, always), Outcome::default());
    }
}
