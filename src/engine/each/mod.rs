//! `forkmon.each(tasks, run)`: runs each task in a process forked from the
//! caller (the runner), one at a time, learns from each process which
//! watched files the task opened ([`report`], through a pipe), and then
//! waits for changes: a settled change ([`settle`]) of a file some tasks
//! read runs exactly those tasks again ([`plan`]), each in a fresh fork of
//! the runner, whose state is the caller's at the call.
//!
//! The runner watches the tasks' files with an inotify instance of its own:
//! the files read before the call stay the watcher's, and their change
//! resumes from their checkpoint as always (ending the runner and its
//! tasks). A task's process makes no checkpoints: the engine only reports
//! its reads (see `Engine::before_read`).

mod plan;
mod report;
mod settle;
mod watch;

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use inotify::Inotify;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};

pub use plan::{Reason, Status};
pub use report::Report;

use crate::paths::split_parent;
use crate::stamp::FileStamp;
use crate::sys::{self, procfs, signals};
use crate::{change, info, warn};
use plan::Plan;
use report::Decoder;
use settle::Settle;
use watch::{Watch, read_events};

/// How long a writer may keep a changed file open before the change is
/// taken as it is (as the watcher's).
const WRITER_WAIT: Duration = Duration::from_secs(1);

pub struct Options {
    /// A task's run (a round's, with `together`) is killed after this long.
    pub timeout: Option<Duration>,
    /// All tasks of a round run in one process, `run(list, start, fail)`.
    pub together: bool,
    /// What a task is called in messages ("task", "spec file").
    pub label: String,
    /// Folders (absolute) where a new file may be a new task, though no
    /// task is there yet (busted's spec/ before its first spec file).
    pub folders: Vec<Vec<u8>>,
}

/// How one task's latest run went.
#[derive(Clone, Debug)]
pub struct TaskResult {
    pub task: Vec<u8>,
    pub status: Status,
    /// The watched files it opened, sorted.
    pub reads: Vec<Vec<u8>>,
}

/// What the caller (the Lua side) does for the runner.
pub trait Host {
    /// The task list now, if the caller gave a function that lists them.
    fn list(&mut self) -> Option<Vec<Vec<u8>>>;
    /// In a task's process: runs `batch` (one task, or the round with
    /// `together`); returns the process's exit status (0: ok).
    fn run(&mut self, batch: &[Vec<u8>]) -> i32;
    /// In the runner, after each round.
    fn after_round(&mut self, results: &[TaskResult]);
}

/// Runs the tasks; if forkmon is on, never returns: it re-runs what each
/// change affects until the program is ended. Otherwise returns the first
/// round's results.
pub fn run(
    list: Vec<Vec<u8>>,
    options: Options,
    host: &mut dyn Host,
    watching: bool,
) -> Vec<TaskResult> {
    // Ctrl+C, SIGTERM and SIGHUP end the runner at once (and, by their
    // parent-death signal, the task's process); the program's own handlers
    // are put back in each task's process.
    let saved = signals::take_over_signals(&nix::sys::signal::SigSet::empty()).ok();
    // Watched from the first round on: a save while a task runs stops it.
    let watch = watching.then(Watching::new);
    let mut runner = Runner {
        plan: Plan::new(list),
        options,
        saved,
        pid: nix::unistd::getpid(),
        results: Vec::new(),
        watching: watch,
        settled_in_round: Vec::new(),
    };
    let results = runner.round(host);
    if !watching {
        if let Some(saved) = &runner.saved {
            saved.restore();
        }
        return results;
    }
    runner.watch_loop(host)
}

struct Runner {
    plan: Plan,
    options: Options,
    saved: Option<signals::SavedSignals>,
    pid: Pid,
    /// The round's results, in order.
    results: Vec<TaskResult>,
    /// The tasks' files watched, once forkmon is on.
    watching: Option<Watching>,
    /// Changes that settled while a task ran, looked at after its round.
    settled_in_round: Vec<Vec<u8>>,
}

/// The runner's watch of the tasks' files, and the changes not settled yet.
struct Watching {
    watch: Watch,
    settle: Settle,
    buffer: Vec<u8>,
}

impl Watching {
    fn new() -> Watching {
        let inotify = match Inotify::init() {
            Ok(inotify) => {
                let inotify = sys::above_standard_streams(inotify.into());
                // Not the program's, at the checkpoints `after_round` makes.
                sys::identity::mark(inotify.as_fd());
                Inotify::from(inotify)
            }
            Err(error) => {
                warn!("forkmon.each cannot watch the tasks' files ({error}); ending");
                sys::exit_now(1)
            }
        };
        let delay = crate::config::active()
            .map_or(crate::config::DEFAULT_RESTART_DELAY, |c| c.restart_delay);
        Watching {
            watch: Watch::new(inotify),
            settle: Settle::new(delay, WRITER_WAIT),
            buffer: vec![0u8; 64 * 1024],
        }
    }

    /// Reads the events waiting; returns the changes settled by now, and
    /// when to look again for the others.
    fn settled(&mut self) -> (Vec<Vec<u8>>, Option<Instant>) {
        read_events(
            &mut self.watch,
            &mut self.buffer,
            &mut self.settle,
            Instant::now(),
        );
        self.settle.settled(Instant::now())
    }
}

fn stamp_of(path: &[u8]) -> Option<FileStamp> {
    FileStamp::of_path(&std::ffi::CString::new(path).ok()?)
}

impl Runner {
    fn watch_loop(&mut self, host: &mut dyn Host) -> ! {
        loop {
            let settled_in_round = std::mem::take(&mut self.settled_in_round);
            if !settled_in_round.is_empty() {
                self.take_settled(host, &settled_in_round);
            }
            // Files read meanwhile may have changed before their directory
            // was watched: their stamps tell. A task made in a task folder
            // before it was watched (first, or again once back) is listed.
            if self.watch_files() {
                self.relist(host);
            }
            let watched: Vec<Vec<u8>> = self.plan.watched().into_iter().collect();
            self.look_at(watched.iter().map(Vec::as_slice), false);
            if self.plan.has_pending() {
                self.round(host);
                continue;
            }
            self.say_waiting();
            // A change still settling when the round ended is looked at
            // at once (its events were read during the round).
            let mut next: Option<Instant> = Some(Instant::now());
            loop {
                let timeout = match next {
                    None => PollTimeout::NONE,
                    Some(at) => {
                        let ms = at.saturating_duration_since(Instant::now()).as_millis() + 1;
                        PollTimeout::try_from(ms.min(60_000) as i32).unwrap_or(PollTimeout::MAX)
                    }
                };
                let Some(watching) = self.watching.as_mut() else {
                    sys::exit_now(1)
                };
                let mut fds = [PollFd::new(
                    watching.watch.inotify.as_fd(),
                    PollFlags::POLLIN,
                )];
                match poll(&mut fds, timeout) {
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(_) => sys::exit_now(1),
                }
                let (settled, later) = watching.settled();
                next = later;
                if settled.is_empty() {
                    continue;
                }
                self.take_settled(host, &settled);
                // A folder removed is watched from above until it is back.
                if self.watch_files() {
                    self.relist(host);
                }
                // A folder made (`mkdir -p src/util`, then the file): a file
                // a task looked for in it may be there before its watch.
                if settled.iter().any(|path| watch::is_dir(path)) {
                    let watched: Vec<Vec<u8>> = self.plan.watched().into_iter().collect();
                    self.look_at(watched.iter().map(Vec::as_slice), true);
                }
                if self.plan.has_pending() {
                    break;
                }
            }
        }
    }

    /// Settled changes: the tasks that read them are to run.
    fn take_settled(&mut self, host: &mut dyn Host, settled: &[Vec<u8>]) {
        // A file no task read, or one gone, may be a task come or gone:
        // only then is the list asked again (a listing costs a few
        // milliseconds of the reply to each save).
        let known = self.plan.watched();
        if settled
            .iter()
            .any(|path| !known.contains(path) || stamp_of(path).is_none())
        {
            self.relist(host);
        }
        self.look_at(settled.iter().map(Vec::as_slice), true);
    }

    /// Watches the directories of the files the tasks read, and of the
    /// tasks that are files (a new file there may be a new task). Returns
    /// whether one of the task folders (`folders`) is watched anew: a file
    /// made there before may be a task.
    fn watch_files(&mut self) -> bool {
        let Some(watching) = self.watching.as_mut() else {
            return false;
        };
        let watch = &mut watching.watch;
        let mut dirs: Vec<Vec<u8>> = self
            .plan
            .watched()
            .iter()
            .map(|path| split_parent(path).0.to_vec())
            .collect();
        for task in self.plan.names() {
            if let Some(absolute) = crate::paths::existing_file(task) {
                dirs.push(split_parent(absolute.as_bytes()).0.to_vec());
            }
        }
        dirs.sort();
        dirs.dedup();
        for dir in dirs {
            watch.add_dir_or_above(&dir);
        }
        let mut anew = false;
        for folder in &self.options.folders {
            anew |= watch.add_dir_or_above(folder);
        }
        anew
    }

    fn relist(&mut self, host: &mut dyn Host) {
        for task in self.relist_quietly(host) {
            change!("{} '{}' is gone: dropped", self.options.label, shown(&task));
        }
    }

    /// Lists the tasks again; returns those dropped.
    fn relist_quietly(&mut self, host: &mut dyn Host) -> Vec<Vec<u8>> {
        let resumes = crate::engine::resume_count();
        let Some(list) = host.list() else {
            return Vec::new();
        };
        let dropped = self.plan.relist(list);
        if crate::engine::resume_count() != resumes {
            self.plan.queue_all();
        }
        dropped
    }

    fn look_at<'a>(&mut self, paths: impl IntoIterator<Item = &'a [u8]>, say: bool) {
        let dropped = self.plan.look_at(paths, stamp_of, true);
        if say {
            for task in dropped {
                change!("{} '{}' is gone: dropped", self.options.label, shown(&task));
            }
        }
    }

    fn say_waiting(&self) {
        // What the caller printed (in `after_round`) shows before the wait.
        sys::flush_stdio();
        let count =
            |status: fn(Status) -> bool| self.results.iter().filter(|r| status(r.status)).count();
        let ok = count(|s| s == Status::Ok);
        let mut parts = vec![format!("{ok} ok")];
        for (name, matches) in [
            (
                "failed",
                (|s| matches!(s, Status::Failed(_))) as fn(Status) -> bool,
            ),
            ("crashed", |s| s == Status::Crashed),
            ("timed out", |s| s == Status::TimedOut),
        ] {
            let tasks: Vec<String> = self
                .results
                .iter()
                .filter(|r| matches(r.status))
                .map(|r| format!("'{}'", shown(&r.task)))
                .collect();
            if !tasks.is_empty() {
                parts.push(format!("{} {name} ({})", tasks.len(), tasks.join(", ")));
            }
        }
        info!(
            "{} of {} {} ran: {}; waiting for a change",
            self.results.len(),
            self.plan.count(),
            plural(&self.options.label, self.plan.count()),
            parts.join(", ")
        );
    }

    /// Runs the pending tasks (one process each, or one for all with
    /// `together`); returns their results.
    fn round(&mut self, host: &mut dyn Host) -> Vec<TaskResult> {
        let round = self.plan.take_round();
        self.announce(&round);
        self.results.clear();
        let names: Vec<Vec<u8>> = round.into_iter().map(|(name, _)| name).collect();
        if self.options.together {
            if !names.is_empty() {
                self.run_batch(&names, host);
            }
        } else {
            for name in &names {
                self.run_batch(std::slice::from_ref(name), host);
            }
        }
        let resumes = crate::engine::resume_count();
        host.after_round(&self.results);
        // A file the caller read in there is the watcher's now; and if a
        // change of it resumed from there, everything runs again: the tasks
        // there are now, not those this runner knew at that checkpoint
        // (a spec file added or deleted since).
        self.plan.forget_tied(crate::engine::is_tied);
        if crate::engine::resume_count() != resumes {
            // Said by the runner before this resume, if it saw them go.
            let _ = self.relist_quietly(host);
            self.plan.queue_all();
        }
        self.results.clone()
    }

    /// Says why a round runs (the first says nothing: all tasks run).
    fn announce(&self, round: &[(Vec<u8>, Reason)]) {
        if round.is_empty() || round.iter().all(|(_, r)| *r == Reason::First) {
            return;
        }
        let label = &self.options.label;
        let why: Vec<String> = round
            .iter()
            .map(|(name, reason)| {
                let name = shown(name);
                match reason {
                    Reason::First => format!("'{name}'"),
                    Reason::New => format!("'{name}' (new)"),
                    Reason::Changed(path) if shown(path) == name => {
                        format!("'{name}' (changed)")
                    }
                    Reason::Changed(path) => format!("'{name}' (read '{}')", shown(path)),
                    Reason::NotRun => format!("'{name}' (not run: its round ended early)"),
                    Reason::Everything => format!("'{name}'"),
                }
            })
            .collect();
        if round.iter().all(|(_, r)| *r == Reason::Everything) {
            change!("running all {} {}", round.len(), plural(label, round.len()));
            return;
        }
        change!(
            "running {} of {} {}: {}",
            round.len(),
            self.plan.count(),
            plural(label, self.plan.count()),
            why.join(", ")
        );
    }

    /// Forks the process for `batch`, follows its reports and waits for
    /// its end (or kills it at the timeout).
    fn run_batch(&mut self, batch: &[Vec<u8>], host: &mut dyn Host) {
        for name in batch {
            self.plan.started(name);
        }
        let pipe = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
            // Not at 0 to 2: a task's print must not go into the reports.
            Ok((read, write)) => (
                sys::above_standard_streams(read),
                sys::above_standard_streams(write),
            ),
            Err(error) => {
                warn!("forkmon.each cannot make a pipe ({error}); the tasks do not run");
                return self.finish_all(batch, Status::Crashed);
            }
        };
        // The runner may have become a checkpoint's child since the call
        // (a watched file read in `after_round`): its pid now.
        self.pid = nix::unistd::getpid();
        match procfs::thread_count() {
            Ok(1) => {}
            Ok(threads) => {
                warn!(
                    "the program has {threads} threads and forking it is not safe: the tasks do not run"
                );
                return self.finish_all(batch, Status::Crashed);
            }
            Err(error) => {
                warn!("cannot count the program's threads ({error}): the tasks do not run");
                return self.finish_all(batch, Status::Crashed);
            }
        }
        sys::flush_stdio();
        // SAFETY: `thread_count` just found one thread.
        #[allow(unsafe_code)]
        let forked = unsafe { sys::fork() };
        match forked {
            Err(error) => {
                warn!(
                    "forkmon.each cannot fork ({error}); if the process limit is reached, raise it with: ulimit -u"
                );
                self.finish_all(batch, Status::Crashed);
            }
            Ok(ForkResult::Child) => {
                let (read_end, write_end) = pipe;
                drop(read_end);
                self.enter_task(write_end);
                if !self.options.together {
                    crate::engine::report_task(&Report::Start(0));
                }
                let status =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| host.run(batch)))
                        .unwrap_or(1);
                crate::engine::report_task(&Report::Done(status));
                sys::flush_stdio();
                sys::exit_now(status)
            }
            Ok(ForkResult::Parent { child }) => {
                let (read_end, write_end) = pipe;
                drop(write_end);
                self.follow(child, read_end, batch);
            }
        }
    }

    fn enter_task(&self, reports: OwnedFd) {
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
        if crate::sys::parent_pid() != self.pid {
            sys::exit_now(1);
        }
        if let Some(saved) = &self.saved {
            saved.restore();
        }
        crate::engine::enter_task(reports);
    }

    fn finish_all(&mut self, batch: &[Vec<u8>], status: Status) {
        for name in batch {
            self.finish(name, status);
        }
    }

    /// Looks at the changes settled while `batch` runs (kept for after the
    /// round); returns the first that a task of the batch read, if any, and
    /// when to look again. `None` if not watching.
    fn changed_while_running(
        &mut self,
        batch: &[Vec<u8>],
    ) -> Option<(Option<Vec<u8>>, Option<Instant>)> {
        let (settled, later) = self.watching.as_mut()?.settled();
        let mut changed = None;
        for path in &settled {
            if changed.is_none()
                && batch
                    .iter()
                    .any(|name| self.plan.read_changed(name, path, stamp_of(path)))
            {
                changed = Some(path.clone());
            }
        }
        self.settled_in_round.extend(settled);
        Some((changed, later))
    }

    /// The batch was stopped by a change of `path` while its task at
    /// `position` ran: those before it that did not fail finished (as far
    /// as forkmon can tell); it, those after it and those that failed (the
    /// run ended before it told why) run again next.
    fn stopped_by_a_change(
        &mut self,
        batch: &[Vec<u8>],
        position: usize,
        failed: &[usize],
        path: &[u8],
    ) {
        self.plan.look_at([path], stamp_of, false);
        for (n, name) in batch.iter().enumerate() {
            if n < position && !failed.contains(&n) {
                self.finish(name, Status::Ok);
            } else {
                self.results.retain(|r| r.task != *name);
                self.plan.not_run(name);
            }
        }
    }

    fn finish(&mut self, name: &[u8], status: Status) {
        self.plan.finished(name, status);
        self.results.retain(|r| r.task != name);
        self.results.push(TaskResult {
            task: name.to_vec(),
            status,
            reads: self.plan.reads_of(name),
        });
    }

    fn follow(&mut self, child: Pid, reports: OwnedFd, batch: &[Vec<u8>]) {
        let _ = nix::fcntl::fcntl(
            &reports,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        let ended = sys::pidfd_open(child).ok();
        let deadline = self
            .options
            .timeout
            .and_then(|t| Instant::now().checked_add(t));
        let mut told = Told::default();
        let mut pipe_open = true;
        // A change not settled yet is looked at again then.
        let mut settling: Option<Instant> = None;
        let mut changed_while_running: Option<Vec<u8>> = None;
        let outcome = loop {
            let timeout = match deadline.into_iter().chain(settling).min() {
                Some(at) => {
                    let ms = at.saturating_duration_since(Instant::now()).as_millis() + 1;
                    PollTimeout::try_from(ms.min(60_000) as i32).unwrap_or(PollTimeout::MAX)
                }
                // Without a pidfd (a kernel before 5.3), the end is looked
                // for every 10 ms.
                None if ended.is_none() => PollTimeout::from(10u8),
                None => PollTimeout::NONE,
            };
            let mut fds = Vec::with_capacity(3);
            if pipe_open {
                fds.push(PollFd::new(reports.as_fd(), PollFlags::POLLIN));
            }
            if let Some(ended) = &ended {
                fds.push(PollFd::new(ended.as_fd(), PollFlags::POLLIN));
            }
            if let Some(watching) = &self.watching {
                fds.push(PollFd::new(
                    watching.watch.inotify.as_fd(),
                    PollFlags::POLLIN,
                ));
            }
            match poll(&mut fds, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
            drop(fds);
            if pipe_open {
                pipe_open = self.take_reports(&reports, &mut told, batch);
            }
            match waitpid(child, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => {}
                Ok(status) => break Some(status),
                Err(_) => break None,
            }
            // A save of a file the running tasks read stops them, as a save
            // stops a running program: they run again with it at once, not
            // after the timeout.
            if let Some((changed, later)) = self.changed_while_running(batch) {
                settling = later;
                if let Some(path) = changed {
                    end_tree(child);
                    let _ = waitpid(child, None);
                    changed_while_running = Some(path);
                    break None;
                }
            }
            if deadline.is_some_and(|at| Instant::now() >= at) {
                end_tree(child);
                let _ = waitpid(child, None);
                break None;
            }
        };
        if pipe_open {
            self.take_reports(&reports, &mut told, batch);
        }
        let label = &self.options.label;
        let at = told
            .current
            .and_then(|i| batch.get(i))
            .unwrap_or(&batch[0])
            .clone();
        if let Some(path) = changed_while_running {
            if shown(&path) == shown(&at) {
                change!("{label} '{}' changed while it ran: stopped it", shown(&at));
            } else {
                change!(
                    "'{}' changed while {label} '{}' ran: stopped it",
                    shown(&path),
                    shown(&at)
                );
            }
            return self.stopped_by_a_change(batch, told.current.unwrap_or(0), &told.failed, &path);
        }
        let status = match (outcome, told.done) {
            (Some(WaitStatus::Exited(_, _)), Some(0)) => Status::Ok,
            (Some(WaitStatus::Exited(_, _)), Some(code)) => Status::Failed(code),
            (Some(WaitStatus::Exited(_, code)), None) => {
                warn!(
                    "{label} '{}' exited with status {code} before it finished: crashed",
                    shown(&at)
                );
                Status::Crashed
            }
            (Some(WaitStatus::Signaled(_, signal, _)), _) => {
                warn!("{label} '{}' crashed ({signal})", shown(&at));
                Status::Crashed
            }
            (None, _) if deadline.is_some() => {
                let seconds = self.options.timeout.unwrap_or_default().as_secs_f64();
                warn!(
                    "{label} '{}' timed out after {seconds} s: killed",
                    shown(&at)
                );
                Status::TimedOut
            }
            _ => Status::Crashed,
        };
        match status {
            // With `together`, the tasks said to have failed did, if any
            // is; else all did.
            Status::Failed(_) if !told.failed.is_empty() => {
                for (n, name) in batch.iter().enumerate() {
                    let own = if told.failed.contains(&n) {
                        status
                    } else {
                        Status::Ok
                    };
                    self.finish(name, own);
                }
            }
            Status::Ok | Status::Failed(_) => self.finish_all(batch, status),
            _ => {
                // With `together`, the tasks before this one finished (as
                // far as forkmon can tell); those after it never ran.
                let position = told.current.unwrap_or(0);
                for (n, name) in batch.iter().enumerate() {
                    match n.cmp(&position) {
                        std::cmp::Ordering::Less => self.finish(name, Status::Ok),
                        std::cmp::Ordering::Equal => self.finish(name, status),
                        std::cmp::Ordering::Greater => self.plan.not_run(name),
                    }
                }
            }
        }
    }

    /// Reads what the task's process reported so far; false once the pipe
    /// is closed (every writer gone).
    fn take_reports(&mut self, reports: &OwnedFd, told: &mut Told, batch: &[Vec<u8>]) -> bool {
        let mut buffer = [0u8; 16 * 1024];
        let Told {
            decoder,
            current,
            done,
            failed,
        } = told;
        let open = loop {
            match nix::unistd::read(reports, &mut buffer) {
                Ok(0) => break false,
                Ok(n) => decoder.feed(&buffer[..n]),
                Err(Errno::EINTR) => {}
                Err(_) => break true,
            }
        };
        while let Some(report) = decoder.next_report() {
            match report {
                Some(Report::Start(index)) => *current = Some(index as usize),
                Some(Report::Read(path, stamp)) => {
                    // Watched from now: a save of it stops the run. (A
                    // file looked for may be in a folder not there yet.)
                    if let Some(watching) = self.watching.as_mut() {
                        watching.watch.add_dir_or_above(split_parent(&path).0);
                    }
                    match current.and_then(|i| batch.get(i)) {
                        Some(name) => self.plan.read(name, &path, stamp),
                        // Read outside any task: every task of the batch's.
                        None => batch
                            .iter()
                            .for_each(|name| self.plan.read(name, &path, stamp)),
                    }
                }
                Some(Report::Wrote(path)) => self.plan.wrote(&path),
                Some(Report::Done(status)) => *done = Some(status),
                Some(Report::Failed(index)) => failed.push(index as usize),
                None => {}
            }
        }
        open
    }
}

/// What a task's process has told so far.
#[derive(Default)]
struct Told {
    decoder: Decoder,
    /// The batch's task it runs now (with `together`, since `start`).
    current: Option<usize>,
    /// The status `run` returned with.
    done: Option<i32>,
    /// With `together`: the tasks said to have failed.
    failed: Vec<usize>,
}

/// Kills a task's process and everything it started: the task's process
/// first, or it would go on (into the next task) the moment a subprocess it
/// waits for is killed; its subprocesses are listed before, while they are
/// still its own.
fn end_tree(child: Pid) {
    let below = procfs::descendants(child);
    let _ = kill(child, Signal::SIGKILL);
    for pid in below {
        let _ = kill(pid, Signal::SIGKILL);
    }
}

/// A path as messages show it: relative to the current directory when
/// below it.
fn shown(path: &[u8]) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let cwd = cwd.as_os_str().as_bytes();
    match path
        .strip_prefix(cwd)
        .and_then(|rest| rest.strip_prefix(b"/"))
    {
        Some(rest) if !cwd.is_empty() => crate::log::shown(rest).into_owned(),
        _ => crate::log::shown(path).into_owned(),
    }
}

fn plural(label: &str, count: usize) -> String {
    if count == 1 {
        label.to_owned()
    } else {
        format!("{label}s")
    }
}
