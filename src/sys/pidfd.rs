//! Processes addressed by a pidfd (Linux 5.3): a handle the kernel does not
//! give to another process when this one ends, unlike its pid.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// A process, for as long as it lives (and not a stranger that may take
/// its pid afterwards).
pub struct ProcessHandle(OwnedFd);

impl ProcessHandle {
    /// Opens a handle on the process that has `pid` now. The caller checks
    /// that it is the process it meant (see `procfs::parent_of`).
    pub fn open(pid: i32) -> io::Result<ProcessHandle> {
        // SAFETY: plain system call on integers; a non-negative result is a
        // new descriptor owned by nothing else.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, libc::PIDFD_NONBLOCK) };
        let fd = i32::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: see above.
        Ok(ProcessHandle(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Sends `signal` with an integer payload, as sigqueue(3) would (the
    /// receiver sees SI_QUEUE, this process's pid and the value). Fails with
    /// ESRCH once the process has ended, even if its pid was reused.
    pub fn send_with_value(&self, signal: i32, value: u64) -> io::Result<()> {
        let info = queued_info(signal, value);
        // SAFETY: `info` is a fully initialised siginfo_t the kernel copies;
        // the descriptor is open (owned by self).
        let result = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.0.as_raw_fd(),
                signal,
                &info as *const libc::siginfo_t,
                0u32,
            )
        };
        match result {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    }
}

impl AsFd for ProcessHandle {
    /// Readable once the process has ended.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// The layout of the start of a siginfo_t for SI_QUEUE (the libc crate
/// gives no constructor): signo, errno, code, then (after padding to the
/// pointer's alignment on 64-bit) pid, uid and the value.
#[repr(C)]
struct QueuedInfo {
    signo: i32,
    errno: i32,
    code: i32,
    #[cfg(target_pointer_width = "64")]
    _pad: i32,
    pid: i32,
    uid: u32,
    value: usize,
}

fn queued_info(signal: i32, value: u64) -> libc::siginfo_t {
    let me = (
        nix::unistd::getpid().as_raw(),
        nix::unistd::getuid().as_raw(),
    );
    queued_info_from(signal, value, me)
}

/// A siginfo_t for SI_QUEUE that names `sender` (pid, uid) as its sender:
/// the kernel lets a process queue a signal in another's name only so.
pub fn queued_info_from(signal: i32, value: u64, sender: (i32, u32)) -> libc::siginfo_t {
    const { assert!(std::mem::size_of::<QueuedInfo>() <= std::mem::size_of::<libc::siginfo_t>()) };
    // SAFETY: siginfo_t is plain data, so all-zero is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let queued = QueuedInfo {
        signo: signal,
        errno: 0,
        code: libc::SI_QUEUE,
        #[cfg(target_pointer_width = "64")]
        _pad: 0,
        pid: sender.0,
        uid: sender.1,
        value: value as usize,
    };
    // SAFETY: QueuedInfo is no bigger than siginfo_t (checked above) and
    // matches the kernel's layout of its first fields for SI_QUEUE.
    unsafe {
        std::ptr::write_unaligned(
            (&mut info as *mut libc::siginfo_t).cast::<QueuedInfo>(),
            queued,
        )
    };
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queued_signal_carries_its_value_and_sender() {
        let info = queued_info(libc::SIGRTMIN(), 42);
        assert_eq!(info.si_signo, libc::SIGRTMIN());
        assert_eq!(info.si_code, libc::SI_QUEUE);
        // SAFETY: the fields of an SI_QUEUE siginfo were written above.
        unsafe {
            assert_eq!(info.si_pid(), libc::getpid());
            assert_eq!(info.si_value().sival_ptr as usize, 42);
        }
    }
}
