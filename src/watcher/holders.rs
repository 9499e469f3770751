//! The holders the watcher may tell to resume, each addressed by a pidfd
//! taken when its checkpoint is registered: a holder killed since (by
//! `kill -9`, say) is seen gone, and the stranger that may have its pid
//! now is never signalled. Without pidfds (Linux before 5.3) the pid is
//! used, as forkmon did before.

use std::collections::HashMap;
use std::io;
use std::os::fd::AsFd;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::channel::protocol::Link;
use crate::sys::pidfd::ProcessHandle;
use crate::sys::procfs;

enum Address {
    Handle(ProcessHandle),
    /// No pidfd could be had: pidfd_open is not there (ENOSYS), a seccomp
    /// filter refuses it (EPERM in some containers), no descriptor is left.
    Pid(i32),
}

#[derive(Default)]
pub struct Holders {
    by_pid: HashMap<i32, Address>,
    /// Why a pidfd could not be had was said (once a session).
    refusal_said: bool,
}

impl Holders {
    /// A checkpoint was registered by the last holder of `lineage`, alive
    /// when it wrote the record: takes a handle on it now, if the process
    /// with its pid is still the one below the holder before it (the
    /// watcher's parent for the first one).
    pub fn add(&mut self, lineage: &[Link]) {
        let Some((last, above)) = lineage.split_last() else {
            return;
        };
        let pid = last.holder;
        // A new registration for a pid ends what an older one said: that
        // process is gone.
        self.by_pid.remove(&pid);
        // Taken before the check below: the process it checks is then the
        // one the handle holds.
        let mut address = match ProcessHandle::open(pid) {
            Ok(handle) => Address::Handle(handle),
            Err(error) if error.raw_os_error() == Some(libc::ESRCH) => return,
            Err(error) => {
                self.say_refusal(&error);
                Address::Pid(pid)
            }
        };
        let is_ours = match above.last() {
            Some(link) => {
                let mut parent = procfs::parent_of(pid);
                if parent.is_none() && matches!(address, Address::Handle(_)) {
                    // The handle may have taken the last descriptor the
                    // look needs (a hard open-file limit the watcher could
                    // not raise): the pid has to do.
                    address = Address::Pid(pid);
                    parent = procfs::parent_of(pid);
                    if parent.is_some() {
                        self.say_refusal(&io::Error::from_raw_os_error(libc::EMFILE));
                    }
                }
                parent == Some(link.holder)
            }
            None => crate::sys::parent_pid().as_raw() == pid,
        };
        if is_ours {
            self.by_pid.insert(pid, address);
        }
    }

    /// A pidfd refused for another reason than the holder's end: holders
    /// are addressed by pid, as before Linux 5.3 (said, but not there).
    fn say_refusal(&mut self, error: &io::Error) {
        if error.raw_os_error() == Some(libc::ENOSYS)
            || std::mem::replace(&mut self.refusal_said, true)
        {
            return;
        }
        crate::warn!(
            "cannot take a pidfd on a checkpoint's process ({error}): forkmon addresses its \
             checkpoints by pid instead, and cannot tell one that was killed (kill -9) from a \
             process that took its pid since"
        );
    }

    /// Forgets the holders that have ended (their pidfds became readable),
    /// so that a long session does not collect descriptors.
    pub fn forget_ended(&mut self) {
        let (pids, mut fds): (Vec<i32>, Vec<PollFd>) = self
            .by_pid
            .iter()
            .filter_map(|(pid, address)| match address {
                Address::Handle(handle) => {
                    Some((*pid, PollFd::new(handle.as_fd(), PollFlags::POLLIN)))
                }
                Address::Pid(_) => None,
            })
            .unzip();
        if fds.is_empty() || poll(&mut fds, PollTimeout::ZERO).is_err() {
            return;
        }
        let ended: Vec<i32> = pids
            .into_iter()
            .zip(&fds)
            .filter(|(_, fd)| fd.revents().is_some_and(|r| !r.is_empty()))
            .map(|(pid, _)| pid)
            .collect();
        drop(fds);
        for pid in ended {
            self.by_pid.remove(&pid);
        }
    }

    /// Whether the holder `pid` is known to have ended (killed with `kill
    /// -9`, or with the holder above it), so that no resume is announced
    /// from it.
    pub fn has_ended(&self, pid: i32) -> bool {
        match self.by_pid.get(&pid) {
            Some(Address::Handle(handle)) => {
                let mut fds = [PollFd::new(handle.as_fd(), PollFlags::POLLIN)];
                matches!(poll(&mut fds, PollTimeout::ZERO), Ok(1))
            }
            Some(Address::Pid(_)) => false,
            None => true,
        }
    }

    /// Tells the holder `pid` to resume with `number`. Fails (ESRCH) when
    /// it is gone, or was never seen alive.
    pub fn send_resume(&self, pid: i32, signal: i32, number: u64) -> io::Result<()> {
        match self.by_pid.get(&pid) {
            Some(Address::Handle(handle)) => handle.send_with_value(signal, number),
            Some(Address::Pid(pid)) => crate::sys::signals::send_with_value(
                nix::unistd::Pid::from_raw(*pid),
                signal,
                number,
            ),
            None => Err(io::Error::from_raw_os_error(libc::ESRCH)),
        }
    }
}
