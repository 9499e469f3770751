//! The watcher's bookkeeping, free of system calls: which checkpoints exist,
//! what happened to their files, and when a save has settled enough to
//! resume.
//!
//! A save has settled when (1) no writer still has the file open (inotify
//! reports the close, or a rename put a finished file in place), (2) the file
//! exists, and (3) no further event came for `restart_delay`. Everything that
//! settles together is one resume, from the earliest checkpoint among the
//! changed files.

//!
//! The parts, one job each: the chain of checkpoints and their files
//! ([`chain`]), what happened to each file and when it has settled
//! ([`changes`]), and the directory watches that end, come back, or report
//! contents late ([`directories`]). [`Watchlist::step`] puts them in their
//! order; what it needs from the system comes through [`Io`].

mod chain;
mod changes;
mod directories;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chain::{Checkpoint, Index};
pub use changes::Change;
pub use directories::Compared;

use crate::channel::Timing;
use crate::channel::protocol::{Kind, Registration};
use crate::stamp::FileStamp;

/// After a look that found records, the next look comes this soon: the
/// program is loading files, and their lines are said in batches.
pub const BATCH_WINDOW: Duration = Duration::from_millis(20);

/// The longest the contents of a directory go unwatched while the program
/// keeps opening files (see [`Watchlist::watch_contents`]).
const CONTENTS_WAIT: Duration = Duration::from_millis(100);

/// How often a deleted directory that files are tied to is looked for:
/// short next to an editor's save, long next to a stat.
const REWATCH_INTERVAL: Duration = Duration::from_millis(50);

/// A file event as inotify reported it.
#[derive(Debug)]
pub enum Event {
    /// The kernel's queue overflowed: some events are lost.
    Overflow,
    /// The watched directory itself was deleted or moved away.
    DirectoryGone(i32),
    /// Something happened to a name in a watched directory.
    File(i32, Vec<u8>, FileEvent),
}

/// What a step needs from outside the watchlist: the journal's records,
/// the file system and inotify. The watcher's event loop gives the real
/// ones; the tests give their own.
pub trait Io {
    /// The records appended to the journal since the last look.
    fn records(&mut self) -> Vec<Registration>;
    /// The file at `path` as `stat` sees it now.
    fn stamp(&self, path: &[u8]) -> Option<FileStamp>;
    /// The size of the file at `path`, `None` if it is not there.
    fn size(&self, path: &[u8]) -> Option<u64>;
    /// Watches the directory `dir` for names and contents; its watch.
    fn watch_directory(&mut self, dir: &[u8]) -> Option<i32>;
    /// The watch `old` no longer stands for its files' directory, though
    /// it did not end (a symbolic link above it points elsewhere now): the
    /// program's processes must watch that path anew.
    fn watch_replaced(&mut self, old: i32);
    /// What is at the path of a file tied to a checkpoint: a symbolic
    /// link's target directory is watched here.
    fn look(&mut self, path: &[u8]) -> Found;
    fn now(&self) -> Instant;
}

/// What [`Io::look`] found at a tied file's path: one `lstat` in the
/// watcher per file tied, which the program saves itself (see
/// `engine::TieAfterOpen`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// A regular file, nothing (a file looked for and missing), or a link
    /// whose target cannot be watched (which the look said).
    File,
    /// A symbolic link to a file: its target, in the directory watched as
    /// `dir_watch`.
    Link { dir_watch: i32, target: Vec<u8> },
    /// A FIFO, a device or a directory that matched the filter (through a
    /// link too): writes to it are no edits.
    NotAFile,
}

/// What one step found.
#[derive(Debug, Default)]
pub struct Step {
    /// What to resume, what is gone, when to look again.
    pub outcome: Outcome,
    /// Files newly tied, as the journal brought them (their `watch` lines).
    pub watched: Vec<Vec<u8>>,
    /// The journal had records: the program is loading files.
    pub batching: bool,
    /// inotify's queue overflowed.
    pub overflowed: bool,
}

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

/// Tell holder `holder` (checkpoint number `depth`, from 0) to resume; this is
/// resume number `number` of the session.
#[derive(Debug, PartialEq, Eq)]
pub struct Resume {
    pub holder: i32,
    pub depth: usize,
    pub number: u64,
    pub from: Vec<u8>,
    /// `from` was not there at the checkpoint: it was made before a
    /// lookup of it.
    pub from_looked_for: bool,
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
    /// Since when directories wait for their contents to be watched.
    contents_unwatched_since: Option<Instant>,
    /// The replaced runs' ties the latest checkpoint's record took off its
    /// file (see `untie_from_replaced_runs`), with their depths: put back
    /// if that checkpoint is withdrawn.
    untied: Vec<(usize, chain::WatchedFile)>,
    /// Names the run made itself in directories it listed, by directory
    /// watch (see [`OwnEntries`]).
    own_entries: OwnEntries,
    /// Files the run is writing whose close has not been seen (see
    /// [`OwnWrites`]).
    own_writes: OwnWrites,
}

/// Names the program created itself (opened for writing) in a directory it
/// listed: they are no change of the listing, or a program that lists its
/// folder and writes a log there would resume itself without end. Kept
/// for the run that made them (a resume forgets them), up to
/// [`MAX_OWN_ENTRIES`]; past that a new name counts as a change again.
#[derive(Debug, Default)]
pub(super) struct OwnEntries {
    by_dir: HashMap<i32, HashSet<Vec<u8>>>,
    count: usize,
}

const MAX_OWN_ENTRIES: usize = 100_000;

impl OwnEntries {
    pub(super) fn add(&mut self, dir_watch: i32, name: &[u8]) {
        if self.count < MAX_OWN_ENTRIES
            && self
                .by_dir
                .entry(dir_watch)
                .or_default()
                .insert(name.to_vec())
        {
            self.count += 1;
        }
    }

    pub(super) fn contains(&self, dir_watch: i32, name: &[u8]) -> bool {
        self.by_dir
            .get(&dir_watch)
            .is_some_and(|names| names.contains(name))
    }

    pub(super) fn clear(&mut self) {
        self.by_dir.clear();
        self.count = 0;
    }
}

/// Files the run is writing itself, by directory watch and name, with when
/// it said so, until inotify tells their close. A file the program ties
/// meanwhile (it writes a config, then requires it; or the file it edits
/// gets its own checkpoint) takes the write as its own: the events the
/// watcher sees after the tie are the program's, not an edit. Kept for the
/// run that wrote (a resume forgets them), up to [`MAX_OWN_WRITES`].
#[derive(Debug, Default)]
pub(super) struct OwnWrites(HashMap<(i32, Vec<u8>), Instant>);

const MAX_OWN_WRITES: usize = 10_000;

impl OwnWrites {
    pub(super) fn add(&mut self, dir_watch: i32, name: &[u8], now: Instant) {
        if dir_watch != 0 && self.0.len() < MAX_OWN_WRITES {
            self.0.insert((dir_watch, name.to_vec()), now);
        }
    }

    pub(super) fn since(&self, dir_watch: i32, name: &[u8]) -> Option<Instant> {
        if self.0.is_empty() {
            return None;
        }
        self.0.get(&(dir_watch, name.to_vec())).copied()
    }

    pub(super) fn closed(&mut self, dir_watch: i32, name: &[u8]) {
        if !self.0.is_empty() {
            self.0.remove(&(dir_watch, name.to_vec()));
        }
    }

    pub(super) fn clear(&mut self) {
        self.0.clear();
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Stale;

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
            contents_unwatched_since: None,
            untied: Vec::new(),
            own_entries: OwnEntries::default(),
            own_writes: OwnWrites::default(),
        }
    }

    /// One look: takes in what happened since the last one, in the order
    /// that keeps every save one resume, and decides. The order matters:
    /// 1. stamps are compared before the journal is read (like an inotify
    ///    event), so a write the program registered before making it is
    ///    known when the result is applied;
    /// 2. the journal's records, then the events: a record is appended
    ///    before its file is read or written, so every record an event may
    ///    need is in by now;
    /// 3. the comparisons, then the directories (made anew, or whose
    ///    contents are due to be watched), then the decision.
    ///
    /// The caller sends the resume order, then calls
    /// [`Watchlist::drop_replaced`].
    pub fn step(&mut self, events: Vec<Event>, io: &mut impl Io) -> Step {
        let compared = self.compare_stamps(|path| io.stamp(path));
        let records = io.records();
        let batching = !records.is_empty();
        let watched = self.register_records(records, io);
        self.looked_at_journal();
        let now = io.now();
        let mut overflowed = false;
        let mut entries = Vec::new();
        let mut created = Vec::new();
        for event in events {
            match event {
                Event::Overflow => overflowed = true,
                Event::DirectoryGone(watch) => self.directory_gone(watch, now),
                Event::File(watch, name, kind) => {
                    self.file_event(watch, &name, kind, now);
                    if kind == FileEvent::Created {
                        created.push((watch, name.clone()));
                    }
                    if matches!(
                        kind,
                        FileEvent::Created | FileEvent::MovedIn | FileEvent::Removed
                    ) {
                        entries.push((watch, name));
                    }
                }
            }
        }
        self.entries_above_tied_directories(&entries, now);
        self.watch_contents_where_created(&created, io, now);
        self.apply_comparisons(compared, now);
        let mut retry_at = self.rewatch(io, now);
        self.watch_contents(io, batching, now);
        if self.awaits_comparison() {
            let soon = now + BATCH_WINDOW;
            retry_at = Some(retry_at.map_or(soon, |at| at.min(soon)));
        }
        let mut outcome = self.settle(io.now(), |path| io.size(path));
        if let Some(at) = retry_at {
            outcome.next = Some(outcome.next.map_or(at, |next| next.min(at)));
        }
        Step {
            outcome,
            watched,
            batching,
            overflowed,
        }
    }

    /// Registers the journal's records; returns the files newly tied. A
    /// file read through a symbolic link is watched as its target too, in
    /// the target's directory (done here rather than in the program, where
    /// a stat per file was a measurable part of start-up).
    fn register_records(&mut self, records: Vec<Registration>, io: &mut impl Io) -> Vec<Vec<u8>> {
        let mut watched = Vec::new();
        for registration in records {
            let ties = matches!(
                registration.kind,
                Kind::Checkpoint | Kind::Attach | Kind::AttachMissing
            );
            let found = if ties {
                io.look(&registration.path)
            } else {
                Found::File
            };
            // The program did not look at a file it opened where contents
            // are watched: what is not a file is dropped here.
            if found == Found::NotAFile && is_tied_without_a_look(&registration) {
                continue;
            }
            let lineage = registration.lineage.clone();
            let path = registration.path.clone();
            let stamp = registration.stamp;
            let withdraws = registration.kind == Kind::Withdraw;
            // A stale one comes from a run that was just replaced.
            if self.register(registration).is_err() || !ties {
                // A checkpoint taken back (its fork failed, or its process
                // could not ring) in the same batch is not said to be watched.
                if withdraws && watched.last() == Some(&path) {
                    watched.pop();
                }
                continue;
            }
            let target = match found {
                Found::Link { dir_watch, target } => {
                    self.watching_fully(dir_watch);
                    let attach = Registration {
                        kind: Kind::Attach,
                        lineage,
                        dir_watch,
                        path: target.clone(),
                        elapsed_micros: 0,
                        // What the program read through the link is the target.
                        stamp,
                    };
                    self.register(attach).ok().map(|()| target)
                }
                Found::File | Found::NotAFile => None,
            };
            watched.push(path);
            watched.extend(target);
        }
        watched
    }
}

/// A file tied after its open without a stamp: the program did not look
/// at what it opened, as the directory's contents were watched (see
/// `engine::TieAfterOpen`). A file looked for and not found has no stamp
/// either, and a listing's path ends with '/'.
fn is_tied_without_a_look(record: &Registration) -> bool {
    record.kind == Kind::Attach && record.stamp.is_none() && !record.path.ends_with(b"/")
}
