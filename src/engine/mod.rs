//! The checkpoint engine: safe Rust, shared by both ways in.
//!
//! The process that opens a newly seen watched file forks. The parent
//! becomes the holder of that checkpoint ([`holder`]) and the child returns
//! to the program, which goes on to read the file. The program's first pid
//! is the first holder, so the shell's job, the terminal's foreground group
//! and `kill <pid>` keep working as the user expects.

// The engine is safe Rust but for its three forks (a checkpoint, a resume,
// a standby): each is allowed where it stands.
#![deny(unsafe_code)]

pub mod as_alone;
pub mod each;
mod end_requests;
mod given_back;
mod held_locks;
mod holder;
mod shared_descriptors;
mod shared_input;
mod standby;
mod tied;
mod trace;
mod unforked;
mod weighing;

use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::{ForkResult, Pid};
use tied::TiedFiles;

use crate::channel::protocol::{Kind, Link, Message};
use crate::channel::resume_order;
use crate::channel::{Timing, WatchError, WatcherLink};
use crate::config::{self, RESTART_TICKS};
use crate::paths::{AbsolutePath, OwnedPath, split_parent};
use crate::stamp::FileStamp;
use crate::sys::signals::{self, SavedSignals};
use crate::sys::terminal::TerminalModes;
use crate::sys::timers::IntervalTimers;
use crate::{sys, warn};
use holder::Holder;
use shared_descriptors::SharedDescriptors;
use unforked::Obstacle;

/// At most this many checkpoints live at once (a chain of processes; the
/// kernel's fork cost grows with its depth). Files read after that are tied
/// to the last checkpoint.
pub const MAX_CHECKPOINTS: usize = 256;

/// How long the first holder lets the program run before it forks the
/// watcher (see `Engine::checkpoint`).
const WATCHER_START_DELAY: Duration = Duration::from_millis(2);

/// How much of the journal the first holder makes ready for the program's
/// first registrations (about 2,000 files; see `Journal::make_room_ahead`).
const JOURNAL_ROOM_AHEAD: usize = 256 << 10;

/// How long a writer may keep a changed file open before its change is
/// taken as it is.
const WRITER_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the program has {0} threads at a checkpoint and forking it is not safe")]
    Threads(usize),
    #[error("cannot count the program's threads: {0}")]
    Proc(std::io::Error),
    #[error(transparent)]
    Watch(#[from] WatchError),
    #[error(
        "cannot make a checkpoint: fork failed ({0}); if the process limit is reached, raise it with: ulimit -u"
    )]
    Fork(nix::Error),
    #[error("cannot make a checkpoint: {0}")]
    Signals(nix::Error),
}

/// Checkpoint state of one process; a child inherits its parent's copy.
pub struct Engine {
    /// Files that have a checkpoint in this process's past.
    tied: TiedFiles,
    /// The holders above this process, first checkpoint first.
    lineage: Vec<Link>,
    watcher: Option<WatcherLink>,
    /// Checkpoints stopped after an error (said once).
    stopped: bool,
    /// The process this state belongs to: a copy the program forked by
    /// itself (not through a checkpoint) makes no checkpoints. Per watched
    /// file the fork count tells (see `sys::count_forks`); the pid is asked
    /// where a fork or a write follows anyway, and where forks are not
    /// counted.
    pid: i32,
    forks: Option<u64>,
    /// When this run started, and how much of the program's work came
    /// before that (0 for the first run; the checkpoint's own for a resumed
    /// one): together, the start-up time a checkpoint made now would skip.
    run_start: Instant,
    work_before_run: Duration,
    /// When this process left its latest checkpoint.
    last_checkpoint: Instant,
    /// What the checkpoints above this process cost it (see [`weighing`]).
    costs: weighing::Costs,
    /// In a resumed run, the mark of the file whose change started it: it
    /// gets a checkpoint of its own when read (see [`resume_order`]).
    changed_file: Option<u32>,
    /// Which kinds of [`Obstacle`] were said (each once).
    obstacles_said: [bool; 2],
    /// The root directory the paths are resolved in (device, inode): a
    /// program that changes it (chroot) names other files by the same
    /// paths, which the watcher, in the first root, would take for ones
    /// removed.
    root: Option<(u64, u64)>,
    /// In a task's process of `forkmon.each`: where its reads are reported
    /// (it makes no checkpoints).
    task_reports: Option<std::os::fd::OwnedFd>,
    /// Whether the program made itself a child subreaper (as at its
    /// latest checkpoint): a fork's child is none, so each run is made one
    /// again.
    subreaper: bool,
    /// Whether input waiting at a checkpoint was said (once).
    shared_input_said: bool,
    /// The kinds of event descriptors said (see `shared_descriptors`).
    events_said: Vec<shared_descriptors::EventKind>,
    /// An fcntl lock held at a checkpoint was said (see `held_locks`).
    held_lock_said: bool,
}

static ENGINE: Mutex<Option<Engine>> = Mutex::new(None);
/// Set once the chroot hook is live (the preload way in): then the root
/// is looked at only after a chroot, not per watched file.
static ROOT_HOOKED: AtomicBool = AtomicBool::new(false);
static ROOT_MAY_HAVE_CHANGED: AtomicBool = AtomicBool::new(false);

/// The chroot hook is live in this process.
pub fn root_hooked() {
    ROOT_HOOKED.store(true, Ordering::SeqCst);
}

/// Whether this process is a run of the program (not a copy it forked)
/// whose first holder leads its process group: alone, the program would be
/// that leader (a shell makes each job's first process one), where
/// `setsid` fails and `setpgid(0, 0)` changes nothing. A run is the first
/// holder's child, where both would take it out of the terminal's
/// foreground group (Ctrl+C would not reach it, a read of the terminal
/// would stop it).
pub fn stands_in_for_its_group_leader() -> bool {
    let engine = engine();
    let Some(engine) = engine.as_ref() else {
        return false;
    };
    let Some(first) = engine.lineage.first() else {
        return false;
    };
    // vfork's or _Fork's child runs no fork handlers: its pid tells it.
    let me = nix::unistd::getpid();
    if !engine.is_own_process() || me.as_raw() != engine.pid {
        return false;
    }
    let group = nix::unistd::getpgrp();
    group.as_raw() == first.holder && me != group
}

/// The program called chroot (or is about to).
pub fn root_may_have_changed() {
    ROOT_MAY_HAVE_CHANGED.store(true, Ordering::SeqCst);
}
static RESUMES: AtomicU64 = AtomicU64::new(0);
static AT_FIRST_CHECKPOINT: OnceLock<fn()> = OnceLock::new();

/// `action` runs once in the process that makes the program's first
/// checkpoint, single-threaded, just before it forks (the preload way in
/// takes forkmon out of `LD_PRELOAD` there). The first one given stays.
pub fn at_first_checkpoint(action: fn()) {
    let _ = AT_FIRST_CHECKPOINT.set(action);
}

static STARTED_BY_A_PROGRAM: OnceLock<fn() -> Option<String>> = OnceLock::new();

/// `check` tells, before this process would make the program's first
/// checkpoint, whether it is rather a helper the program started (`cat`
/// run by `system()` before the program read a watched file itself), and
/// names it and its starter: then it makes none, and says so once. The
/// first one given stays.
pub fn refuse_first_checkpoint_if(check: fn() -> Option<String>) {
    let _ = STARTED_BY_A_PROGRAM.set(check);
}

fn engine() -> MutexGuard<'static, Option<Engine>> {
    // A panic caught at a hook boundary must not disable the next hooks.
    ENGINE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Makes the engine ready (once).
pub fn start() {
    let mut engine = engine();
    if engine.is_none() {
        *engine = Some(Engine {
            tied: TiedFiles::default(),
            lineage: Vec::new(),
            watcher: None,
            stopped: false,
            pid: nix::unistd::getpid().as_raw(),
            forks: sys::count_forks().then(sys::forks),
            // The library may be loaded late (by require): the work before
            // counts too.
            run_start: Instant::now()
                .checked_sub(sys::processor_time().unwrap_or_default())
                .unwrap_or_else(Instant::now),
            work_before_run: Duration::ZERO,
            last_checkpoint: Instant::now(),
            costs: weighing::Costs::new(),
            changed_file: None,
            obstacles_said: [false; 2],
            subreaper: false,
            shared_input_said: false,
            events_said: Vec::new(),
            held_lock_said: false,
            root: root_identity(),
            task_reports: None,
        });
    }
}

/// Whether the watcher process exists (its delays are fixed from then on).
pub fn watcher_started() -> bool {
    with_engine(|engine| engine.watcher.is_some()).unwrap_or(false)
}

/// The first holder of this run's tree, in the run itself (not before the
/// first checkpoint, not in a copy the program forked, with or without
/// fork handlers): see [`as_alone::program_parent`].
fn first_holder_of_this_run() -> Option<i32> {
    with_engine(|engine| {
        // The pid too: a child made without fork handlers (vfork, _Fork,
        // a raw fork) has the run's fork count, and its parent is the run.
        let own = engine.is_own_process() && nix::unistd::getpid().as_raw() == engine.pid;
        if engine.lineage.is_empty() || !own {
            return None;
        }
        engine.lineage.first().map(|link| link.holder)
    })
    .flatten()
}

/// How many times this run was resumed (0 on the first run).
pub fn resume_count() -> u64 {
    RESUMES.load(Ordering::Relaxed)
}

/// What an open for reading will find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// An existing regular file the program may read, with its stamp.
    Readable(FileStamp),
    /// No such file: looked for, it is watched for its coming.
    Missing,
    /// Anything else: an open that fails so makes no checkpoint.
    Unreadable,
}

/// The program is about to read the watched file `path`: make a checkpoint
/// unless the file has one already. Returns in the program (the first child,
/// or a resumed one); the holder never returns from here.
///
/// A checkpoint made now would save little work since the last one (see
/// `FORKMON_MIN_WORK`): then no checkpoint is made, and `true` asks the
/// caller to call [`after_read`] once the open has succeeded, to tie the
/// file to the last checkpoint. `readable` is asked only before a new
/// checkpoint: whether the open will succeed (a failed open makes none),
/// with the file's stamp as it will be read. A missing file is looked for:
/// the first checkpoint may be made before that lookup.
pub fn before_read(
    path: &AbsolutePath,
    readable: impl FnOnce(&AbsolutePath) -> Probe,
) -> Option<TieAfterOpen> {
    with_engine(|engine| engine.before_read(path, readable)).flatten()
}

/// What [`before_read`] asks of the caller once the open has succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TieAfterOpen {
    /// The file's stamp is needed (an `fstat` of the opened file): its
    /// directory's contents were not watched yet before the open (see
    /// [`channel::WatcherLink::contents_watched`]).
    pub needs_stamp: bool,
}

/// The program opened the watched file `path` for reading, after
/// [`before_read`] asked for this: tie it to the last checkpoint. `stamp`
/// is the opened file's.
pub fn after_read(path: OwnedPath, stamp: Option<FileStamp>) {
    with_engine(|engine| engine.after_read(path, stamp));
}

/// The program looked for the watched file `path` and did not find it: it
/// is tied to the latest checkpoint (a new one here if there is none), so
/// that its coming resumes from before the lookup (the first checkpoint,
/// if the lookup made it, see [`before_read`]). A file in a directory that
/// is not there either is not watched.
pub fn looked_for_missing(path: OwnedPath) {
    with_engine(|engine| engine.looked_for_missing(path));
}

/// The program is about to list the directory `dir`, which the filter
/// matches: it is tied, as `dir/`, to a checkpoint made here (or to the
/// latest one, as a file read soon after it), so that a file added to it or
/// removed from it resumes from before the listing.
pub fn before_listing(dir: &AbsolutePath) {
    with_engine(|engine| engine.before_listing(dir));
}

/// The program is about to open `path` for writing: if it is tied to a
/// checkpoint, the watcher ignores its changes until the program closes it
/// (the program's own output is no edit to resume for); if its directory
/// is a listing tied to one, the name it may make there is no change of
/// the listing. `matched`: whether the filter matches `path`.
pub fn before_write(path: &AbsolutePath, matched: bool) {
    with_engine(|engine| engine.before_write(path, matched));
}

/// Runs `action` on the started engine, unless it is busy. It is busy only
/// if another thread of a threaded program is in here: that program gets no
/// checkpoints anyway, and waiting could deadlock a copy it forks meanwhile.
fn with_engine<R>(action: impl FnOnce(&mut Engine) -> R) -> Option<R> {
    let mut engine = match ENGINE.try_lock() {
        Ok(engine) => engine,
        // A panic caught at a hook boundary must not disable the next hooks.
        Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return None,
    };
    engine.as_mut().map(action)
}

/// A directory listing was tied in this process or one it was forked
/// from: write opens are then looked at even where the filter cannot
/// match (see [`before_write`]).
static LISTING_TIED: AtomicBool = AtomicBool::new(false);

/// Whether a write open of a path the filter does not match still
/// matters: it may make a name in a directory the program listed.
pub fn listing_tied() -> bool {
    LISTING_TIED.load(Ordering::Relaxed)
}

/// Whether `path` is tied to a checkpoint above this process.
pub fn is_tied(path: &[u8]) -> bool {
    with_engine(|engine| engine.tied.contains(path)).unwrap_or(false)
}

/// In a task's process of `forkmon.each`, just forked: from now on the
/// watched files it opens are reported through `reports`, and it makes no
/// checkpoints.
pub fn enter_task(reports: std::os::fd::OwnedFd) {
    // With forkmon off (an option it could not apply), the task still
    // tells its runner how it ended.
    start();
    with_engine(|engine| {
        engine.task_reports = Some(reports);
        engine.pid = nix::unistd::getpid().as_raw();
        engine.forks = engine.forks.map(|_| sys::forks());
    });
}

/// Whether this is a task's process of `forkmon.each`.
pub fn in_task() -> bool {
    with_engine(|engine| engine.task_reports.is_some()).unwrap_or(false)
}

/// Sends `report` to the runner, in a task's process.
pub fn report_task(report: &each::Report) {
    with_engine(|engine| engine.report(report));
}

/// Ties the existing files `paths` to a checkpoint without the filter
/// (`forkmon.checkpoint` and `forkmon.watch` from Lua): with `here`, a new
/// checkpoint at this point for all of them; otherwise the latest checkpoint
/// of this run (a new one here if there is none). Returns how many files
/// were newly tied.
pub fn tie(paths: &[AbsolutePath], here: bool) -> usize {
    with_engine(|engine| engine.tie(paths, here)).unwrap_or(0)
}

impl Engine {
    /// One message to the runner (a whole one: the pipe is blocking, and
    /// messages are far below PIPE_BUF). A runner gone means the process is
    /// about to be killed by its parent-death signal.
    fn report(&self, report: &each::Report) {
        let Some(fd) = &self.task_reports else { return };
        let bytes = report.encode();
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            match nix::unistd::write(fd, rest) {
                Ok(n) => rest = &rest[n..],
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return,
            }
        }
    }

    /// A task's read, reported unless the file is a checkpoint's already.
    fn report_read(&self, path: &AbsolutePath, stamp: Option<FileStamp>) {
        if !self.tied.contains(path.as_bytes()) {
            self.report(&each::Report::Read(path.as_bytes().to_vec(), stamp));
        }
    }

    fn tie(&mut self, paths: &[AbsolutePath], here: bool) -> usize {
        if self.task_reports.is_some() {
            for path in paths {
                self.report_read(path, FileStamp::of_path(path.as_c_str()));
            }
            return 0;
        }
        let fresh: Vec<(&AbsolutePath, Option<FileStamp>)> = paths
            .iter()
            .filter(|path| !self.tied.contains(path.as_bytes()))
            .map(|path| (path, FileStamp::of_path(path.as_c_str())))
            .collect();
        if self.stopped || fresh.is_empty() || self.root_changed() {
            return 0;
        }
        if nix::unistd::getpid().as_raw() != self.pid {
            self.stop_in_a_copy();
            return 0;
        }
        for (path, _) in &fresh {
            self.tied.insert(path.as_bytes());
        }
        let (to_attach, result) = match fresh.split_first() {
            Some(((first, stamp), rest))
                if (self.lineage.is_empty() || (here && self.lineage.len() < MAX_CHECKPOINTS))
                    && !self.cannot_checkpoint(first) =>
            {
                (rest, self.checkpoint(first.as_bytes(), *stamp))
            }
            _ => (&fresh[..], Ok(())),
        };
        let result = result.and_then(|()| {
            to_attach
                .iter()
                .try_for_each(|(path, stamp)| self.attach(path.as_bytes(), *stamp))
        });
        if let Err(error) = result {
            self.stop(error);
            return 0;
        }
        fresh.len()
    }

    /// The program's work so far: the start-up a checkpoint made now skips.
    fn work(&self, now: Instant) -> Duration {
        self.work_before_run + now.saturating_duration_since(self.run_start)
    }

    fn elapsed_micros(&self) -> u64 {
        u64::try_from(self.work(Instant::now()).as_micros()).unwrap_or(u64::MAX)
    }

    /// Ties `path` to the checkpoint this process runs under: tells the
    /// watcher, which says so and watches the target of a symbolic link
    /// too (a line or a stat per file from here would cost more than the
    /// tie).
    fn attach(&mut self, path: &[u8], stamp: Option<FileStamp>) -> Result<(), EngineError> {
        self.attach_as(Kind::Attach, path, stamp)
    }

    /// [`Engine::attach`] as `kind` (a file looked for and missing is
    /// told apart).
    fn attach_as(
        &mut self,
        kind: Kind,
        path: &[u8],
        stamp: Option<FileStamp>,
    ) -> Result<(), EngineError> {
        let Some(watcher) = self.watcher.as_mut() else {
            return Ok(());
        };
        let dir_watch = watcher.watch_dir(split_parent(path).0)?;
        watcher.register(&Message {
            kind,
            lineage: &self.lineage,
            dir_watch,
            path,
            // Only a checkpoint's is shown (what a resume from it skips).
            elapsed_micros: 0,
            stamp,
        })?;
        Ok(())
    }

    fn before_listing(&mut self, dir: &AbsolutePath) {
        // As in `looked_for_missing`.
        if self.task_reports.is_some() {
            return;
        }
        let mut entry = dir.as_bytes().to_vec();
        if !entry.ends_with(b"/") {
            entry.push(b'/');
        }
        if self.stopped || self.tied.contains(&entry) {
            return;
        }
        if !self.is_own_process() || nix::unistd::getpid().as_raw() != self.pid {
            self.stop_in_a_copy();
            return;
        }
        // An optional folder that is not there (`pcall(lfs.dir, "plugins")`):
        // its listing fails, as alone, and there is nothing to watch in it.
        // (Its watch failed, and that stopped forkmon for the whole run.)
        if !directory_exists(dir.as_bytes()) {
            return;
        }
        if self.root_changed() {
            return;
        }
        let here = self.lineage.is_empty()
            || (self.lineage.len() < MAX_CHECKPOINTS && self.worth_a_checkpoint());
        // As for a file: what a fork would not copy makes no checkpoint, and
        // the listing is tied to the last one, if there is one.
        let here = here && !self.cannot_checkpoint(dir);
        if !here && self.lineage.is_empty() {
            return;
        }
        self.tied.insert(&entry);
        LISTING_TIED.store(true, Ordering::Relaxed);
        let result = if here {
            self.checkpoint(&entry, None)
        } else {
            self.attach(&entry, None)
        };
        if let Err(error) = result {
            self.stop(error);
        }
    }

    fn looked_for_missing(&mut self, path: OwnedPath) {
        // A task's process of `forkmon.each` makes no checkpoint and ties
        // nothing: it reports what it read, and what it looked for (a spec
        // that requires a module not written yet runs once it is).
        // Also where its directory is not there yet (`src/util/fmt.lua`):
        // the runner watches the nearest one that is.
        if self.task_reports.is_some() {
            if !self.tied.contains(path.as_bytes()) {
                self.report(&each::Report::Read(path.as_bytes().to_vec(), None));
            }
            return;
        }
        if self.stopped || self.tied.contains(path.as_bytes()) {
            return;
        }
        if !self.is_own_process() {
            self.stopped = true;
            return;
        }
        // Without a checkpoint before the lookup there is nothing to resume.
        if self.lineage.is_empty() || !directory_exists(split_parent(path.as_bytes()).0) {
            return;
        }
        match self.attach_as(Kind::AttachMissing, path.as_bytes(), None) {
            Ok(()) => {
                self.tied.insert(path.as_bytes());
            }
            Err(error) => self.stop(error),
        }
    }

    fn before_write(&mut self, path: &AbsolutePath, matched: bool) {
        if self.task_reports.is_some() {
            if matched {
                self.report(&each::Report::Wrote(path.as_bytes().to_vec()));
            }
            return;
        }
        let tied = matched && self.tied.contains(path.as_bytes());
        // Only a name the open makes: a file that is there already (opened
        // to append, say) is the listing's as it was, and a change of it
        // by someone else must still count.
        let listed = !tied
            && self.listed_directory_of(path)
            && nix::sys::stat::lstat(path.as_c_str()).is_err();
        if !(tied || listed || matched)
            || nix::unistd::getpid().as_raw() != self.pid
            || self.root_changed()
        {
            return;
        }
        let Some(watcher) = self.watcher.as_mut() else {
            return;
        };
        let dir = path.split_parent().0;
        if !(tied || listed) {
            // A file it writes, then reads (a config it generates, then
            // requires): the read may tie it before the watcher sees the
            // write's events, which are still no edit. Where its directory
            // is not watched, none come.
            if let Some(dir_watch) = watcher.known_dir_watch(dir) {
                let _ = watcher.register(&Message {
                    kind: Kind::OwnWriteUntied,
                    lineage: &self.lineage,
                    dir_watch,
                    path: path.as_bytes(),
                    elapsed_micros: 0,
                    stamp: None,
                });
            }
            return;
        }
        // A file it makes in a directory it listed is no change of the
        // listing: the watcher learns the name, by the directory's watch.
        let dir_watch = match listed {
            // The watch the listing was tied with (its directory is not
            // watched anew when it is still the same one).
            true => match watcher.watch_dir(dir) {
                Ok(watch) => watch,
                Err(_) => return,
            },
            false => 0,
        };
        let _ = watcher.register(&Message {
            kind: Kind::OwnWrite,
            lineage: &self.lineage,
            dir_watch,
            path: path.as_bytes(),
            elapsed_micros: 0,
            stamp: None,
        });
        // The write's own events (its close above all) must be seen, even
        // while the directory's contents are not watched yet.
        if tied {
            let _ = watcher.watch_contents(dir);
        }
    }

    /// Whether the directory of `path` is a listing tied to a checkpoint.
    fn listed_directory_of(&self, path: &AbsolutePath) -> bool {
        if !LISTING_TIED.load(Ordering::Relaxed) {
            return false;
        }
        let dir = path.split_parent().0;
        let mut entry = Vec::with_capacity(dir.len() + 1);
        entry.extend_from_slice(dir);
        if !entry.ends_with(b"/") {
            entry.push(b'/');
        }
        self.tied.contains(&entry)
    }

    fn before_read(
        &mut self,
        path: &AbsolutePath,
        readable: impl FnOnce(&AbsolutePath) -> Probe,
    ) -> Option<TieAfterOpen> {
        if self.task_reports.is_some() {
            if !self.tied.contains(path.as_bytes()) {
                if let Probe::Readable(stamp) = readable(path) {
                    self.report_read(path, Some(stamp));
                }
            }
            return None;
        }
        if self.stopped || self.tied.contains(path.as_bytes()) {
            return None;
        }
        if !self.is_own_process() {
            self.stopped = true;
            self.say_read_in_a_forked_copy(path);
            return None;
        }
        if self.root_changed() {
            return None;
        }
        // A checkpoint not worth its fork (see `worth_a_checkpoint`): the
        // file is tied to the last checkpoint instead. The file whose change
        // started this run is weighed against what it saves each next edit.
        let changed_file = self
            .changed_file
            .is_some_and(|changed| resume_order::mark(path.as_bytes()) == changed);
        if !self.lineage.is_empty()
            && (self.lineage.len() >= MAX_CHECKPOINTS || !self.worth_here(changed_file))
        {
            return self.tie_after_open(path);
        }
        // A copy made without fork handlers (a raw clone, vfork's child)
        // shows here, where a fork follows anyway.
        if nix::unistd::getpid().as_raw() != self.pid {
            self.stop_in_a_copy();
            return None;
        }
        let stamp = match readable(path) {
            Probe::Readable(stamp) => Some(stamp),
            // Later lookups are tied to this checkpoint (`looked_for_missing`).
            Probe::Missing
                if self.lineage.is_empty() && directory_exists(path.split_parent().0) =>
            {
                None
            }
            Probe::Missing | Probe::Unreadable => return None,
        };
        // Tied to the last checkpoint, if there is one.
        if self.cannot_checkpoint(path) {
            return if self.lineage.is_empty() {
                None
            } else {
                self.tie_after_open(path)
            };
        }
        self.tied.insert(path.as_bytes());
        if changed_file {
            self.changed_file = None;
        }
        if let Err(error) = self.checkpoint(path.as_bytes(), stamp) {
            self.stop(error);
        }
        None
    }

    /// `path` is to be tied to the latest checkpoint once its open has
    /// succeeded. The file's stamp is asked for unless the watcher watched
    /// the contents of its directory before the open: an edit after the
    /// open is then an event. (A directory not watched yet is left to the
    /// tie, which says why it cannot be, or to the lookup of a missing file.)
    fn tie_after_open(&mut self, path: &AbsolutePath) -> Option<TieAfterOpen> {
        let dir = path.split_parent().0;
        let watched = self.watcher.as_mut().is_some_and(|watcher| {
            watcher
                .known_dir_watch(dir)
                .is_some_and(|watch| watcher.contents_watched(watch))
        });
        Some(TieAfterOpen {
            needs_stamp: !watched,
        })
    }

    /// Only called after `before_read` said yes, within the same open: that
    /// already made sure this is the engine's own process (no second
    /// `getpid`, a tenth of a tied open's cost).
    fn after_read(&mut self, path: OwnedPath, stamp: Option<FileStamp>) {
        if self.stopped || self.tied.contains(path.as_bytes()) {
            return;
        }
        match self.attach(path.as_bytes(), stamp) {
            Ok(()) => {
                self.tied.insert(path.as_bytes());
            }
            Err(error) => self.stop(error),
        }
    }

    /// Whether this process, about to make the first checkpoint at `path`,
    /// is a helper of the program (see [`refuse_first_checkpoint_if`]):
    /// then it makes no checkpoint (its holder would wait for a change,
    /// and the program for it, forever), says so once and stops.
    fn is_a_programs_helper(&mut self, path: &AbsolutePath) -> bool {
        let Some(helper) = STARTED_BY_A_PROGRAM.get().and_then(|check| check()) else {
            return false;
        };
        self.stopped = true;
        warn!(
            "'{}' was read by {helper}: not watched (forkmon watches the program, not its \
             helpers)",
            crate::log::shown(path.as_bytes())
        );
        true
    }

    /// A copy the program forked by itself reads the watched file `path`:
    /// it makes no checkpoints and ties nothing (only the program's own
    /// line of processes is resumed), which is said once per tree rather
    /// than left to look like a missed edit.
    fn say_read_in_a_forked_copy(&self, path: &AbsolutePath) {
        let Some(watcher) = self.watcher.as_ref() else {
            // Before the first checkpoint nothing is shared to tell the
            // others: each copy says it (once, as it stops).
            warn!(
                "'{}' was read by a process the program forked (pid {}) before its first \
                 checkpoint: forkmon follows only the program's own process, so what such \
                 copies read is not watched",
                crate::log::shown(path.as_bytes()),
                std::process::id()
            );
            return;
        };
        if watcher.journal().first_to_tell_forked_read() {
            warn!(
                "'{}' was read by a process the program forked (pid {}): forkmon follows only \
                 the program's own process, so what such copies read is not watched (said once)",
                crate::log::shown(path.as_bytes()),
                std::process::id()
            );
        }
    }

    /// In a run resumed from the checkpoint of `path`, which it is about to
    /// read again, if `path` is the file whose change started the run, it
    /// is tied anew: if it is a symbolic link, so that the watcher looks at
    /// where it points now (`ln -sfn v2/mod.lua mod.lua` changed the link,
    /// and the new target must be watched too); if it was `missing` at the
    /// checkpoint (a script not written yet), with what it is now, so that
    /// the watcher watches its writes from now on. The files the run reads
    /// after it are tied anew anyway.
    fn relook_if_changed(&mut self, path: &[u8], missing: bool) {
        if self.changed_file != Some(resume_order::mark(path)) {
            return;
        }
        let Ok(stat) = nix::sys::stat::lstat(path) else {
            return;
        };
        let result = if stat.st_mode & libc::S_IFMT == libc::S_IFLNK {
            self.attach(path, None)
        } else if missing && stat.st_mode & libc::S_IFMT == libc::S_IFREG {
            self.attach(path, Some(FileStamp::of(&stat)))
        } else {
            Ok(())
        };
        if let Err(error) = result {
            self.stop(error);
        }
    }

    /// Whether the program's state has something a fork would not copy
    /// (see [`unforked`]); says so once per kind.
    fn cannot_checkpoint(&mut self, path: &AbsolutePath) -> bool {
        if self.lineage.is_empty() && (self.stopped || self.is_a_programs_helper(path)) {
            return true;
        }
        let Some(obstacle) = Obstacle::now() else {
            return false;
        };
        if let Some(said) = self.obstacles_said.get_mut(obstacle.kind()) {
            if !std::mem::replace(said, true) {
                let first = self.lineage.is_empty();
                warn!(
                    "{}",
                    obstacle.describe(&crate::log::shown(path.as_bytes()), first)
                );
            }
        }
        true
    }

    /// Whether the program changed its root directory since forkmon
    /// started (one stat, for a file not tied yet): then checkpoints stop,
    /// said once.
    fn root_changed(&mut self) -> bool {
        if self.stopped {
            return true;
        }
        // A stat of / per watched file is a fifth of what tying one costs:
        // where chroot is hooked, only after a chroot.
        let may_have_changed =
            !ROOT_HOOKED.load(Ordering::Relaxed) || ROOT_MAY_HAVE_CHANGED.load(Ordering::Relaxed);
        if !may_have_changed || root_identity() == self.root {
            return false;
        }
        self.stopped = true;
        warn!(
            "the program changed its root directory (chroot): files it reads from now on are \
             not watched; the program runs on without new checkpoints"
        );
        true
    }

    /// Whether this is the process the engine's state belongs to, not a copy
    /// the program forked by itself.
    /// This process is a copy of the program's (its pid is another): it
    /// makes no checkpoints and ties nothing from now on. Unless it was
    /// made without fork handlers (vfork's child, a raw clone): vfork's
    /// child shares the program's memory until it execs or exits, so
    /// marking it would stop the program itself, silently. Such a copy is
    /// looked at again at each file (one `getpid`).
    fn stop_in_a_copy(&mut self) {
        if !self.is_own_process() {
            self.stopped = true;
        }
    }

    fn is_own_process(&self) -> bool {
        match self.forks {
            Some(forks) => sys::forks() == forks,
            None => nix::unistd::getpid().as_raw() == self.pid,
        }
    }

    fn worth_a_checkpoint(&mut self) -> bool {
        self.worth_here(false)
    }

    /// [`Engine::worth_a_checkpoint`]; the file whose change started this
    /// run also when it saves each next edit more than it costs once. One
    /// clock read: this runs for every watched file read.
    fn worth_here(&mut self, changed_file: bool) -> bool {
        let min_work = config::active().map_or(config::DEFAULT_MIN_WORK, |c| c.min_work);
        let now = Instant::now();
        let since_last = now.saturating_duration_since(self.last_checkpoint);
        let work = self.work(now);
        self.costs.worth(now, since_last, work, min_work)
            || (changed_file && self.costs.worth_for_the_changed_file(since_last))
    }

    fn stop(&mut self, error: EngineError) {
        self.stopped = true;
        // The first holder said why.
        if matches!(error, EngineError::Watch(WatchError::NotStarted)) {
            return;
        }
        warn!(
            "{error}; the program runs on without new checkpoints, and the files it reads from \
             now on are not watched"
        );
    }

    fn timing(&self) -> Timing {
        let (restart_delay, ignore_delay) = match config::active() {
            Some(config) => (config.restart_delay, config.ignore_delay),
            None => (config::DEFAULT_RESTART_DELAY, config::DEFAULT_IGNORE_DELAY),
        };
        Timing {
            restart_delay,
            ignore_delay,
            writer_wait: WRITER_WAIT,
        }
    }

    /// A checkpoint for `path`, in its phases: the program may be forked
    /// (one thread), the watcher is ready, the checkpoint is registered
    /// before the fork; then the child goes back into the program and the
    /// parent holds (see [`Engine::hold`]).
    fn checkpoint(&mut self, path: &[u8], stamp: Option<FileStamp>) -> Result<(), EngineError> {
        let mut clock = weighing::CheckpointClock::start();
        let threads = sys::procfs::thread_count().map_err(EngineError::Proc)?;
        if threads > 1 {
            return Err(EngineError::Threads(threads));
        }
        if self.lineage.is_empty() {
            if let Some(action) = AT_FIRST_CHECKPOINT.get() {
                action();
            }
            sys::set_env_single_threaded(config::WATCHED_TREE, &self.pid.to_string());
        }
        let elapsed_micros = self.elapsed_micros();
        self.ready_watcher()?;
        let Some(watcher) = self.watcher.as_mut() else {
            return Err(WatchError::NotStarted.into());
        };
        let dir_watch = watcher.watch_dir(split_parent(path).0)?;
        if !self.held_lock_said
            && let Some(file) = held_locks::first_held()
        {
            self.held_lock_said = true;
            warn!(
                "the program holds an fcntl lock on '{}' at the checkpoint of '{}': a fork does \
                 not pass such locks on, so the checkpoint keeps it and the runs do not have it \
                 (unlocking or upgrading it in a run waits or changes nothing); take the lock \
                 after the watched files are read, or use flock, which forks share",
                crate::log::shown(file.as_bytes()),
                crate::log::shown(path)
            );
        }
        // One listing of the program's descriptors for both looks.
        let open = sys::procfs::descriptors(Pid::this());
        if !self.shared_input_said
            && let Some(waiting) = shared_input::Waiting::now(&open, &watcher.own_descriptors())
        {
            self.shared_input_said = true;
            warn!("{}", waiting.describe(&crate::log::shown(path)));
        }
        let (descriptors, events) = SharedDescriptors::read(&open);
        for (fd, kind) in events {
            if !self.events_said.contains(&kind) {
                self.events_said.push(kind);
                warn!("{}", kind.describe(fd, &crate::log::shown(path)));
            }
        }
        let me = nix::unistd::getpid().as_raw();
        let mut lineage = self.lineage.clone();
        lineage.push(Link {
            holder: me,
            generation: 0,
        });
        let mut registration = Message {
            kind: Kind::Checkpoint,
            lineage: &lineage,
            dir_watch,
            path,
            elapsed_micros,
            stamp,
        };
        // Blocked before registering: a resume order that comes at once
        // waits for the holder loop, and no SIGCHLD of the child is lost.
        let signals = signals::take_over_signals(&signals::blocked_signals())
            .map_err(EngineError::Signals)?;
        // Registered before the fork, so the watcher always learns of a
        // checkpoint before any checkpoint made after it.
        if let Err(error) = watcher.register(&registration) {
            // It may be in the journal already (the doorbell failed): no
            // fork follows, and this process must never be signalled as
            // the checkpoint's holder.
            registration.kind = Kind::Withdraw;
            watcher.append_quietly(&registration);
            signals.restore();
            return Err(error.into());
        }
        // Orphans of the child's run must come here, from its first moment.
        self.subreaper = nix::sys::prctl::get_child_subreaper().unwrap_or(false);
        let _ = nix::sys::prctl::set_child_subreaper(true);
        // A fork's child has no interval timers: each new child (this
        // first one, and each resumed one) arms what was left of them now.
        let timers = IntervalTimers::read();
        // A fork's child has none of the signals pending here (the program
        // blocked them, or they came since everything was blocked above):
        // each run from this checkpoint gets them again.
        let pending = signals::pending_besides(&signals::not_raised_again());
        // Ctrl+C, SIGTERM and the like pending here end or stop the program
        // once: the first child has them from its first instruction (the
        // holder only notes them), the runs resumed later do not.
        let pending_in_resumed = signals::without_passed_on(&pending);
        let terminal = TerminalModes::read();
        let costs_before = self.costs.before_fork();
        // The holder's parent as the program has it now: the holder may
        // start to hold only once its starter is gone.
        let starter = sys::parent_pid();
        sys::flush_stdio();
        let program_cpu = as_alone::program_cpu_time();
        clock.forking();
        // SAFETY: `thread_count` above found one thread, and nothing since
        // started one.
        #[allow(unsafe_code)]
        let forked = unsafe { sys::fork() };
        match forked {
            Err(error) => {
                let _ = nix::sys::prctl::set_child_subreaper(self.subreaper);
                registration.kind = Kind::Withdraw;
                let _ = watcher.register(&registration);
                signals::discard_pending(&signals::held_signals());
                signals.restore();
                Err(EngineError::Fork(error))
            }
            Ok(ForkResult::Child) => {
                watcher.leave_watcher_end();
                as_alone::set_cpu_before_this_process(program_cpu);
                self.costs.forked(costs_before, clock.in_child());
                signals.restore();
                signals::raise_each(&pending);
                timers.arm();
                self.enter_child(Link {
                    holder: me,
                    generation: 0,
                });
                Ok(())
            }
            Ok(ForkResult::Parent { child }) => {
                // Its resumed children go on from this checkpoint as the
                // first child does.
                self.costs.forked(costs_before, clock.in_parent());
                let holding = Holding {
                    child,
                    signals,
                    timers,
                    me,
                    elapsed_micros,
                    terminal,
                    descriptors,
                    starter,
                    raised_in_child: pending,
                };
                self.hold(holding)?;
                // A resumed child, forked from this holder now.
                as_alone::set_cpu_before_this_process(program_cpu);
                signals::raise_each(&pending_in_resumed);
                self.relook_if_changed(path, stamp.is_none());
                Ok(())
            }
        }
    }

    /// The watcher link, made at the first checkpoint; at a later one, the
    /// watcher the first holder forks must be running.
    fn ready_watcher(&mut self) -> Result<(), EngineError> {
        let timing = self.timing();
        match &mut self.watcher {
            Some(watcher) => watcher.wait_started()?,
            none => *none = Some(WatcherLink::prepare(timing)?),
        }
        Ok(())
    }

    /// The parent of a checkpoint's fork: becomes its holder (the first
    /// holder starts the watcher), and returns only in a resumed child.
    fn hold(&mut self, holding: Holding) -> Result<(), EngineError> {
        let Holding {
            child,
            signals,
            timers,
            me,
            elapsed_micros,
            terminal,
            descriptors,
            starter,
            raised_in_child,
        } = holding;
        // Signals that came while this process was still the program
        // (blocked since `take_over_signals`) were meant for it: the child,
        // which did not inherit them, gets them.
        let missed = signals::take_pending(&signals::passed_on_signals());
        let Some(watcher) = self.watcher.as_mut() else {
            sys::exit_now(1)
        };
        // The first holder forks the watcher (later ones find it running):
        // off the program's path, which goes on meanwhile.
        if watcher.is_to_be_started() {
            let _ = watcher.journal().make_room_ahead(JOURNAL_ROOM_AHEAD);
            // Forked at once, the watcher's fork (of this same memory) met
            // the program's first copy-on-write faults: the checkpoint cost
            // the program twice as long.
            std::thread::sleep(WATCHER_START_DELAY);
        }
        // Without a watcher no resume can come: the holder waits for the
        // program and ends as it did.
        let passing_through = match watcher.start(crate::watcher::run) {
            Ok(_) => false,
            Err(error) => {
                warn!("{error}; the program runs on unwatched");
                true
            }
        };
        let journal = watcher.journal();
        let parent = self.lineage.last().map(|link| Pid::from_raw(link.holder));
        let held = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Holder::new(child, journal, signals, parent, passing_through)
                .with_starter(starter)
                .with_terminal(terminal)
                .with_descriptors(descriptors)
                .hold(missed, &raised_in_child)
        }));
        // A panic must not send the holder back into the program.
        let Ok(order) = held else { sys::exit_now(1) };
        let generation = order.number;
        self.changed_file = order.changed;
        // Only a resumed child gets here.
        timers.arm();
        RESUMES.store(generation, Ordering::Relaxed);
        self.run_start = Instant::now();
        self.work_before_run = Duration::from_micros(elapsed_micros);
        sys::set_env_single_threaded(RESTART_TICKS, &generation.to_string());
        self.enter_child(Link {
            holder: me,
            generation,
        });
        Ok(())
    }

    /// First steps of a child: die with its holder, and remember it.
    fn enter_child(&mut self, link: Link) {
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
        if self.subreaper {
            let _ = nix::sys::prctl::set_child_subreaper(true);
        }
        if crate::sys::parent_pid() != Pid::from_raw(link.holder) {
            // The holder died before the line above took effect.
            sys::exit_now(1);
        }
        self.lineage.push(link);
        self.pid = nix::unistd::getpid().as_raw();
        self.forks = self.forks.map(|_| sys::forks());
        self.last_checkpoint = Instant::now();
    }
}

/// The root directory's device and inode.
fn root_identity() -> Option<(u64, u64)> {
    nix::sys::stat::stat("/")
        .ok()
        .map(|stat| (stat.st_dev, stat.st_ino))
}

/// Whether `dir` is a directory: a file looked for in one that is not
/// there cannot be watched for its coming.
fn directory_exists(dir: &[u8]) -> bool {
    std::path::Path::new(std::ffi::OsStr::from_bytes(dir)).is_dir()
}

/// What the parent of a checkpoint's fork holds on to.
struct Holding {
    child: Pid,
    /// The program's signal dispositions and mask, for its next children.
    signals: SavedSignals,
    /// The program's interval timers, as left at the checkpoint.
    timers: IntervalTimers,
    /// This process: the checkpoint's holder.
    me: i32,
    /// The program's work up to the checkpoint, in microseconds.
    elapsed_micros: u64,
    /// The terminal's modes at the checkpoint.
    terminal: Option<TerminalModes>,
    /// The offsets and flags of the program's descriptors then.
    descriptors: SharedDescriptors,
    /// The program's parent at the checkpoint.
    starter: Pid,
    /// The signals pending at the fork, raised in the child at its start.
    raised_in_child: Vec<i32>,
}
