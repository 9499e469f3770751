//! The watcher process: waits on the registration socket and on inotify,
//! feeds the [`Watchlist`], and signals the holder that must resume.

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::time::Instant;

use inotify::{EventMask, Inotify};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{MsgFlags, recv};
use nix::unistd::Pid;

use super::protocol::Registration;
use super::watchlist::{FileEvent, Outcome, Resume, Timing, Watchlist};
use crate::log::shown;
use crate::{change, sys, warn};

/// Runs the watcher until the program's processes are all gone; never
/// returns.
pub fn run(parent: Pid, mut inotify: Inotify, socket: OwnedFd, timing: Timing) -> ! {
    become_watcher(parent);
    let mut list = Watchlist::new(timing);
    let mut packet = vec![0u8; 64 * 1024];
    let mut events = vec![0u8; 64 * 1024];
    let mut next: Option<Instant> = None;
    loop {
        let timeout = match next {
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
        // Registrations first, so that events of a newly watched file find it.
        receive_registrations(&socket, &mut packet, &mut list);
        read_events(&mut inotify, &mut events, &mut list);
        let outcome = list.settle(Instant::now(), |path| {
            std::fs::metadata(OsStr::from_bytes(path))
                .ok()
                .map(|m| m.len())
        });
        next = act(outcome, &mut list, timing.clear_screen);
    }
}

fn become_watcher(parent: Pid) {
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    if nix::unistd::getppid() != parent {
        sys::exit_now(0);
    }
    let _ = nix::sys::prctl::set_name(c"forkmon-watch");
    let _ = sys::take_over_signals(&crate::engine::blocked_signals());
}

fn receive_registrations(socket: &OwnedFd, packet: &mut [u8], list: &mut Watchlist) {
    loop {
        match recv(socket.as_raw_fd(), packet, MsgFlags::MSG_DONTWAIT) {
            // Every process of the program has closed its end: nothing is
            // left to watch for.
            Ok(0) => sys::exit_now(0),
            Ok(len) => {
                if let Some(registration) = packet.get(..len).and_then(Registration::decode) {
                    // A stale one comes from a run that was just replaced.
                    let _ = list.register(registration);
                }
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return,
            Err(_) => sys::exit_now(1),
        }
    }
}

fn read_events(inotify: &mut Inotify, buffer: &mut [u8], list: &mut Watchlist) {
    loop {
        let events = match inotify.read_events(buffer) {
            Ok(events) => events,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let now = Instant::now();
        let mut any = false;
        for event in events {
            any = true;
            let watch = event.wd.get_watch_descriptor_id();
            if event.mask.contains(EventMask::Q_OVERFLOW) {
                warn!("too many file events at once: some changes may have been missed");
                continue;
            }
            if event
                .mask
                .intersects(EventMask::DELETE_SELF | EventMask::MOVE_SELF)
            {
                list.directory_gone(watch, now);
                continue;
            }
            let Some(name) = event.name else { continue };
            let name = name.as_bytes();
            if let Some(kind) = file_event(event.mask) {
                list.file_event(watch, name, kind, now);
            }
        }
        if !any {
            return;
        }
    }
}

fn file_event(mask: EventMask) -> Option<FileEvent> {
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
fn act(outcome: Outcome, list: &mut Watchlist, clear_screen: bool) -> Option<Instant> {
    for path in &outcome.gone {
        warn!(
            "'{}' was removed; its checkpoint waits for it to come back",
            shown(path)
        );
    }
    let mut resume = outcome.resume;
    while let Some(order) = resume.take() {
        if clear_screen {
            clear_terminal();
        }
        announce(&order);
        let holder = Pid::from_raw(order.holder);
        match sys::send_with_value(holder, sys::resume_signal(), order.number) {
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
    use std::io::{IsTerminal, Write};
    let mut stderr = std::io::stderr();
    if stderr.is_terminal() {
        let _ = stderr.write_all(b"\x1b[H\x1b[2J\x1b[3J");
    }
}

/// One line: what changed, the checkpoint resumed from, and the start-up
/// time the resume skips.
fn announce(order: &Resume) {
    let changed: Vec<String> = order
        .changed
        .iter()
        .map(|p| format!("'{}'", shown(p)))
        .collect();
    let from = if order.changed.len() == 1 && order.changed.first() == Some(&order.from) {
        "it".to_owned()
    } else {
        format!("'{}'", shown(&order.from))
    };
    change!(
        "{} changed, resuming from {from} (resume #{}, skipping {:.2} s of start-up)",
        changed.join(", "),
        order.number,
        order.skips.as_secs_f64()
    );
}
