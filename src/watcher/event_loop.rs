//! The watcher process: waits on inotify and on its doorbell, feeds the
//! [`Watchlist`] with file events and journal records, and signals the
//! holder that must resume.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Instant;

use inotify::{EventMask, Inotify};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{MsgFlags, recv};
use nix::unistd::Pid;

use super::holders::Holders;
use super::watchlist::{BATCH_WINDOW, Event, FileEvent, Found, Io, Outcome, Resume, Watchlist};
use crate::channel::journal::Journal;
use crate::channel::limits;
use crate::channel::protocol::{Kind, Registration};
use crate::channel::resume_order::ResumeOrder;
use crate::channel::{Timing, directory_events};
use crate::log::shown;
use crate::paths::split_parent;
use crate::stamp::FileStamp;
use crate::sys::signals;
use crate::{change, info, sys, warn};

/// Runs the watcher until the program's processes are all gone; never
/// returns.
pub fn run(
    holder: Pid,
    inotify: &mut Inotify,
    socket: &OwnedFd,
    journal: Journal,
    timing: Timing,
) -> ! {
    become_watcher(holder, &journal);
    // A display option: the watcher is a copy of the program, whose options
    // are in force here too.
    let clear_screen = crate::config::active().is_some_and(|config| config.clear);
    let mut list = Watchlist::new(timing);
    let mut holders = Holders::default();
    let mut packet = [0u8; 64];
    let mut buffer = vec![0u8; 64 * 1024];
    let mut next: Option<Instant> = None;
    let mut batching = false;
    // Each file's `watch` line is said once a session: a resumed run ties
    // again the files after its checkpoint.
    let mut said: HashSet<Vec<u8>> = HashSet::new();
    loop {
        let wake_at = if batching {
            let soon = Instant::now() + BATCH_WINDOW;
            Some(next.map_or(soon, |at| at.min(soon)))
        } else {
            next
        };
        // While records keep coming, they need no doorbell.
        let idle = batching || journal.arm();
        let timeout = match wake_at {
            _ if !idle => PollTimeout::ZERO,
            None => PollTimeout::NONE,
            Some(at) => {
                let ms = at.saturating_duration_since(Instant::now()).as_millis() + 1;
                PollTimeout::try_from(ms.min(60_000) as i32).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = [
            PollFd::new(socket.as_fd(), PollFlags::POLLIN),
            PollFd::new(inotify.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => sys::exit_now(1),
        }
        journal.disarm();
        take_doorbells(socket, &mut packet);
        let events = read_events(inotify, &mut buffer, &journal);
        let mut kernel = Kernel {
            inotify,
            journal,
            holders: &mut holders,
        };
        let step = list.step(events, &mut kernel);
        batching = step.batching;
        if step.overflowed {
            warn!("too many file events at once: some changes may have been missed");
        }
        // A file the program looked for and did not find is watched
        // without a line: Lua's require probes many.
        let mut watched = step.watched;
        watched.retain(|path| {
            !said.contains(path)
                && Path::new(OsStr::from_bytes(path)).exists()
                && said.insert(path.clone())
        });
        for line in watch_lines(&watched) {
            info!("{line}");
        }
        journal.mark_handled();
        next = act(step.outcome, &mut list, &holders, clear_screen);
        // Only now that the order is out.
        list.drop_replaced();
    }
}

/// The system as a step of the watchlist sees it.
struct Kernel<'a> {
    inotify: &'a Inotify,
    journal: Journal,
    holders: &'a mut Holders,
}

impl Io for Kernel<'_> {
    /// Takes a handle on each new holder as its checkpoint comes in, while
    /// it surely lives (see `Holders::add`).
    fn records(&mut self) -> Vec<Registration> {
        let mut records = Vec::new();
        self.journal
            .drain(|record| records.extend(Registration::decode(record)));
        let mut checkpoints = records
            .iter()
            .filter(|record| record.kind == Kind::Checkpoint)
            .peekable();
        if checkpoints.peek().is_some() {
            self.holders.forget_ended();
        }
        for record in checkpoints {
            self.holders.add(&record.lineage);
        }
        records
    }

    fn stamp(&self, path: &[u8]) -> Option<FileStamp> {
        FileStamp::of_path(&std::ffi::CString::new(path).ok()?)
    }

    fn size(&self, path: &[u8]) -> Option<u64> {
        std::fs::metadata(OsStr::from_bytes(path))
            .ok()
            .map(|m| m.len())
    }

    fn watch_directory(&mut self, dir: &[u8]) -> Option<i32> {
        let watch = self
            .inotify
            .watches()
            .add(OsStr::from_bytes(dir), directory_events())
            .ok()?
            .get_watch_descriptor_id();
        self.journal.set_contents_watched(watch, true);
        Some(watch)
    }

    fn watch_replaced(&mut self, old: i32) {
        // The program's caches of directory watches are dropped when this
        // count moves (see `WatcherLink::known_dir_watch`).
        self.journal.note_watch_ended();
        self.journal.set_contents_watched(old, false);
    }

    fn look(&mut self, path: &[u8]) -> Found {
        let name = OsStr::from_bytes(path);
        let Ok(metadata) = std::fs::symlink_metadata(name) else {
            return Found::File;
        };
        if metadata.is_file() {
            return Found::File;
        }
        if !metadata.is_symlink() {
            return Found::NotAFile;
        }
        if !std::fs::metadata(name).is_ok_and(|target| target.is_file()) {
            return Found::NotAFile;
        }
        match watch_link_target(path, self.inotify) {
            Some((dir_watch, target)) => {
                self.journal.set_contents_watched(dir_watch, true);
                Found::Link { dir_watch, target }
            }
            None => Found::File,
        }
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The watcher was forked by the first holder with the holder's signals
/// blocked: no signal meant for the program reaches it half set up.
fn become_watcher(holder: Pid, journal: &Journal) {
    // Told before any resume order can be sent: a holder takes one only
    // from this pid (the first holder tells it too, in case this process
    // dies before it gets here).
    journal.set_watcher(Some(nix::unistd::getpid()));
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    if crate::sys::parent_pid() != holder {
        sys::exit_now(0);
    }
    let _ = nix::sys::prctl::set_name(c"forkmon-watch");
    // The program's open-file limit is the program's: the watcher keeps a
    // descriptor per checkpoint, up to its hard limit.
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
    let _ = signals::take_over_signals(&signals::blocked_signals());
}

/// Empties the socket: each datagram only wakes the watcher.
fn take_doorbells(socket: &OwnedFd, packet: &mut [u8]) {
    loop {
        match recv(socket.as_raw_fd(), packet, MsgFlags::MSG_DONTWAIT) {
            // Every process of the program has closed its end: nothing is
            // left to watch for.
            Ok(0) => sys::exit_now(0),
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return,
            Err(_) => sys::exit_now(1),
        }
    }
}

/// A file read through the symbolic link `path` changes when its target is
/// edited, in the target's directory: watches that directory, and returns
/// its watch and the target (or says why it cannot). Done here rather than in the
/// program, where a stat per file was a measurable part of start-up.
fn watch_link_target(path: &[u8], inotify: &Inotify) -> Option<(i32, Vec<u8>)> {
    use std::os::unix::ffi::OsStringExt;
    let name = OsStr::from_bytes(path);
    let target = std::fs::canonicalize(name)
        .ok()?
        .into_os_string()
        .into_vec();
    let dir = split_parent(&target).0;
    match inotify
        .watches()
        .add(OsStr::from_bytes(dir), directory_events())
    {
        Ok(watch) => Some((watch.get_watch_descriptor_id(), target)),
        Err(error) => {
            // As the program says for the directories of its files, with
            // what it means here: the program runs on, but edits of the
            // target would be lost without a word.
            let why = error
                .raw_os_error()
                .and_then(limits::inotify_watches)
                .unwrap_or_else(|| error.to_string());
            warn!(
                "cannot watch '{}': {why}; edits of '{}' (read through '{}') are not seen",
                shown(dir),
                shown(&target),
                shown(path)
            );
            None
        }
    }
}

/// Files of one directory read in a single batch get one line when there
/// are more than this many. Few enough that a small app (and every test
/// that names its files) always sees one line per file, whatever the
/// batching; many enough to keep a thousand modules to a screen.
const LINES_PER_DIRECTORY: usize = 8;

/// The lines for files tied to a checkpoint: one per file, but one for a
/// run of more than `LINES_PER_DIRECTORY` files of the same directory.
pub fn watch_lines(paths: &[Vec<u8>]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = paths;
    while let Some(first) = rest.first() {
        let dir = split_parent(first).0;
        let run = rest.iter().take_while(|p| split_parent(p).0 == dir).count();
        let (group, after) = rest.split_at(run);
        match group {
            [first, .., last] if group.len() > LINES_PER_DIRECTORY => lines.push(format!(
                "watch {} files in '{}{}' ('{}' to '{}')",
                group.len(),
                shown(dir),
                if dir.ends_with(b"/") { "" } else { "/" },
                shown(split_parent(first).1),
                shown(split_parent(last).1)
            )),
            _ => lines.extend(group.iter().map(|p| format!("watch '{}'", shown(p)))),
        }
        rest = after;
    }
    lines
}

/// Reads the pending file events. A directory watch that ends is counted
/// at once in the journal, for the programs' caches of watched directories.
fn read_events(inotify: &mut Inotify, buffer: &mut [u8], journal: &Journal) -> Vec<Event> {
    let mut read = Vec::new();
    loop {
        let events = match inotify.read_events(buffer) {
            Ok(events) => events,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return read,
        };
        let mut any = false;
        for event in events {
            any = true;
            let watch = event.wd.get_watch_descriptor_id();
            if event
                .mask
                .intersects(EventMask::DELETE_SELF | EventMask::MOVE_SELF | EventMask::IGNORED)
            {
                journal.note_watch_ended();
                journal.set_contents_watched(watch, false);
            }
            if event.mask.contains(EventMask::Q_OVERFLOW) {
                read.push(Event::Overflow);
            } else if event
                .mask
                .intersects(EventMask::DELETE_SELF | EventMask::MOVE_SELF)
            {
                if event.mask.contains(EventMask::MOVE_SELF) {
                    // The watch would follow the folder to its new name and
                    // tell its writes as edits of the files at the old one.
                    let _ = inotify.watches().remove(event.wd.clone());
                }
                read.push(Event::DirectoryGone(watch));
            } else if let (Some(name), Some(kind)) = (event.name, file_event(event.mask)) {
                read.push(Event::File(watch, name.as_bytes().to_vec(), kind));
            }
        }
        if !any {
            return read;
        }
    }
}

pub(crate) fn file_event(mask: EventMask) -> Option<FileEvent> {
    Some(if mask.contains(EventMask::MODIFY) {
        FileEvent::Written
    } else if mask.contains(EventMask::CLOSE_WRITE) {
        FileEvent::Closed
    } else if mask.contains(EventMask::CREATE) {
        FileEvent::Created
    } else if mask.contains(EventMask::MOVED_TO) {
        FileEvent::MovedIn
    } else if mask.intersects(EventMask::DELETE | EventMask::MOVED_FROM) {
        FileEvent::Removed
    } else if mask.contains(EventMask::ATTRIB) {
        FileEvent::Touched
    } else {
        return None;
    })
}

/// Reports and sends what the watchlist decided; returns when to look again.
fn act(
    outcome: Outcome,
    list: &mut Watchlist,
    holders: &Holders,
    clear_screen: bool,
) -> Option<Instant> {
    for path in &outcome.gone {
        warn!(
            "'{}' was removed; its checkpoint waits for it to come back",
            shown(path)
        );
    }
    let mut resume = outcome.resume;
    while let Some(mut order) = resume.take() {
        // The holders below one killed with `kill -9` end with it: the
        // first one alive above them is resumed, in one line.
        if holders.has_ended(order.holder) {
            warn!(
                "the checkpoint of '{}' is gone; resuming from the one before it",
                shown(&order.from)
            );
            while holders.has_ended(order.holder) {
                match list.holder_gone(order.depth, order.changed, Instant::now()) {
                    Some(before) => order = before,
                    None => {
                        warn!("no checkpoint is left: restart the program");
                        return outcome.next;
                    }
                }
            }
        }
        if clear_screen {
            clear_terminal();
        }
        announce(&order);
        let value =
            ResumeOrder::new(order.number, order.changed.first().map(Vec::as_slice)).value();
        match holders.send_resume(order.holder, signals::resume_signal(), value) {
            Ok(()) => {}
            Err(_) => {
                warn!(
                    "the checkpoint of '{}' is gone; resuming from the one before it",
                    shown(&order.from)
                );
                resume = list.holder_gone(order.depth, order.changed, Instant::now());
                if resume.is_none() {
                    warn!("no checkpoint is left: restart the program");
                }
            }
        }
    }
    outcome.next
}

/// Clears the screen and its scroll-back, when stderr is a terminal.
fn clear_terminal() {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        signals::write_stderr(b"\x1b[H\x1b[2J\x1b[3J");
    }
}

/// One line: what changed, the checkpoint resumed from, and the start-up
/// time the resume skips.
fn announce(order: &Resume) {
    let from = if order.changed.len() == 1 && order.changed.first() == Some(&order.from) {
        "it".to_owned()
    } else if order.from_looked_for {
        // A file that was not there (Lua's require probes many paths).
        format!("the lookup of '{}'", shown(&order.from))
    } else {
        format!("'{}'", shown(&order.from))
    };
    change!(
        "{} changed, resuming from {from} (resume #{}, skipping {:.2} s of start-up)",
        changed_files(&order.changed),
        order.number,
        order.skips.as_secs_f64()
    );
}

/// A resume names at most this many changed files; more are counted (a
/// `git checkout` of a thousand files made a line of 60 KB).
const NAMED_CHANGES: usize = 3;

/// The changed files of a resume: each named, or the first
/// `NAMED_CHANGES` and how many more.
fn changed_files(changed: &[Vec<u8>]) -> String {
    let named = if changed.len() > NAMED_CHANGES + 1 {
        NAMED_CHANGES
    } else {
        changed.len()
    };
    let words: Vec<String> = changed[..named]
        .iter()
        .map(|p| format!("'{}'", shown(p)))
        .collect();
    if named < changed.len() {
        let rest = format!("{} more files", changed.len() - named);
        return format!("{} and {rest}", words.join(", "));
    }
    words.join(", ")
}

#[cfg(test)]
mod tests {
    use super::{changed_files, watch_lines};

    fn paths(names: &[String]) -> Vec<Vec<u8>> {
        names.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    #[test]
    fn runs_of_more_than_eight_files_of_a_directory_share_a_line() {
        let mut names: Vec<String> = (1..=9).map(|n| format!("/a/{n}.lua")).collect();
        names.extend(["/b/x.lua".to_owned(), "/y.lua".to_owned()]);
        assert_eq!(
            watch_lines(&paths(&names)),
            [
                "watch 9 files in '/a/' ('1.lua' to '9.lua')",
                "watch '/b/x.lua'",
                "watch '/y.lua'",
            ]
        );
        let root: Vec<String> = (1..=9).map(|n| format!("/{n}.lua")).collect();
        assert_eq!(
            watch_lines(&paths(&root)),
            ["watch 9 files in '/' ('1.lua' to '9.lua')"]
        );
    }

    #[test]
    fn up_to_eight_files_of_a_directory_get_a_line_each() {
        let names: Vec<String> = (1..=8).map(|n| format!("/a/{n}.lua")).collect();
        let lines = watch_lines(&paths(&names));
        let expected: Vec<String> = names.iter().map(|n| format!("watch '{n}'")).collect();
        assert_eq!(lines, expected);
    }

    #[test]
    fn a_resume_names_up_to_four_changed_files_and_counts_more() {
        let names = |n: usize| -> Vec<String> { (1..=n).map(|n| format!("/a/{n}.lua")).collect() };
        assert_eq!(
            changed_files(&paths(&names(4))),
            "'/a/1.lua', '/a/2.lua', '/a/3.lua', '/a/4.lua'"
        );
        assert_eq!(
            changed_files(&paths(&names(1000))),
            "'/a/1.lua', '/a/2.lua', '/a/3.lua' and 997 more files"
        );
    }
}
