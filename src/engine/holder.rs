//! The holder of a checkpoint: a process frozen just before a file is read.
//! It waits for its child to end (and says so once) or for the watcher's
//! order to resume, and then replaces the child's whole subtree with a fresh
//! child forked from this point.

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};

use crate::channel::journal::{Journal, WatcherState};
use crate::sys::procfs;
use crate::sys::signals::{self, Received, SavedSignals, held_signals};
use crate::{info, sys, warn};

pub struct Holder {
    child: Option<Pid>,
    /// Where the watcher's pid is told: the first holder forks the watcher
    /// after it became a holder.
    journal: Journal,
    /// Children this process had before the checkpoint: they belong to the
    /// program's past, not to the run a resume replaces.
    older_children: Vec<Pid>,
    signals: SavedSignals,
}

impl Holder {
    pub fn new(child: Pid, journal: Journal, signals: SavedSignals) -> Holder {
        let older_children = procfs::children()
            .unwrap_or_default()
            .into_iter()
            .filter(|pid| *pid != child)
            .collect();
        Holder {
            child: Some(child),
            journal,
            older_children,
            signals,
        }
    }

    /// Holds until told to resume; returns the resume number, in the new
    /// child only.
    /// The engine made this process a child subreaper before the fork, so
    /// orphans of the run are re-parented here, to be killed and reaped.
    pub fn hold(mut self) -> u64 {
        let waited = held_signals();
        loop {
            self.reap();
            match signals::wait_signal(&waited) {
                Ok(received) if self.is_resume_order(&received) => {
                    let number = received.value;
                    self.end_run();
                    sys::flush_stdio();
                    // SAFETY: a holder is a copy of the program at a
                    // checkpoint, made only while it had one thread.
                    #[allow(unsafe_code)]
                    let forked = unsafe { sys::fork() };
                    match forked {
                        Ok(ForkResult::Child) => {
                            self.signals.restore();
                            return number;
                        }
                        Ok(ForkResult::Parent { child }) => self.child = Some(child),
                        Err(error) => warn!(
                            "cannot resume: fork failed ({error}); waiting for the next change"
                        ),
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    warn!("a checkpoint stopped waiting ({error}); ending the program");
                    self.end_run();
                    sys::exit_now(1);
                }
            }
        }
    }

    /// Only the watcher's queued signal is an order to resume.
    fn is_resume_order(&self, received: &Received) -> bool {
        received.signal == signals::resume_signal()
            && received.queued
            && Some(Pid::from_raw(received.sender)) == self.watcher()
    }

    fn watcher(&self) -> Option<Pid> {
        match self.journal.watcher() {
            WatcherState::Running(pid) => Some(pid),
            WatcherState::Starting | WatcherState::CouldNotStart => None,
        }
    }

    /// Reaps every ended child; says once how the program ended.
    fn reap(&mut self) {
        loop {
            let status = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(status) => status,
            };
            let Some(pid) = status.pid() else { return };
            if Some(pid) == self.child {
                self.child = None;
                match status {
                    WaitStatus::Exited(_, code) => {
                        info!("program exited with status {code}; waiting for a change")
                    }
                    WaitStatus::Signaled(_, signal, _) => {
                        warn!("program ended by {signal}; waiting for a change")
                    }
                    _ => {}
                }
            } else if Some(pid) == self.watcher() {
                warn!("the watcher process ended; ending the program");
                self.end_run();
                sys::exit_now(1);
            }
        }
    }

    /// Kills and reaps the current run: the child and everything below it,
    /// so no process of the old run is alive when the new one starts.
    fn end_run(&mut self) {
        if let Some(child) = self.child.take() {
            // The whole run at once: by parent-death signals alone, each
            // holder below would start to die only once the one above it
            // had torn down its memory (15 ms for 30 holders). A process
            // listed here cannot be reaped and its pid reused before the
            // kill unless it ends by itself in between and the kernel
            // hands out every other pid first.
            for pid in procfs::descendants(child) {
                let _ = kill(pid, Signal::SIGKILL);
            }
            let _ = kill(child, Signal::SIGKILL);
            let _ = waitpid(child, None);
        }
        // What was killed above is re-parented here (subreaper) as each
        // level dies; so is anything forked after the tree was read. Each
        // round kills and reaps the children found now.
        let watcher = self.watcher();
        for _ in 0..10_000 {
            let Ok(children) = procfs::children() else {
                return;
            };
            let run: Vec<Pid> = children
                .into_iter()
                .filter(|pid| Some(*pid) != watcher && !self.older_children.contains(pid))
                .collect();
            if run.is_empty() {
                return;
            }
            for pid in &run {
                let _ = kill(*pid, Signal::SIGKILL);
            }
            for pid in &run {
                let _ = waitpid(*pid, None);
            }
        }
    }
}

/// The first holder could not fork the watcher, so no resume can come: it
/// waits for the program and ends as the program did, as if forkmon were
/// not there. Ctrl+C, SIGTERM and SIGHUP still end it (and so, by its
/// parent-death signal, the program).
pub fn pass_through(child: Pid) -> ! {
    let _ = nix::sys::prctl::set_child_subreaper(false);
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => sys::exit_now(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => {
                // By the same signal where the holder's mask lets it (as
                // the shell would report it), by its number otherwise.
                let _ = kill(Pid::this(), signal);
                sys::exit_now(128 + signal as i32)
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => sys::exit_now(1),
        }
    }
}
