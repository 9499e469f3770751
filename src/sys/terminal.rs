//! The terminal's modes at a checkpoint, set again when a run resumes from
//! it: a run killed while it had the terminal raw or without echo (a
//! REPL's line editor, a game's key reading) would leave it so, and the
//! new run goes on from a point where the program had it as it was then.

#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::os::fd::AsFd;

use nix::sys::termios::{self, SetArg, Termios};

pub struct TerminalModes {
    modes: Termios,
}

impl TerminalModes {
    /// The modes of the program's terminal, if the program is in front on
    /// it, reading it and writing to it (a REPL, a game): a program whose
    /// output goes to a pager (`| less`) or a file leaves the terminal's
    /// modes to others, and a job in the background sees what the shell's
    /// line editor set.
    pub fn read() -> Option<TerminalModes> {
        let input = std::io::stdin();
        let output = std::io::stdout();
        if !input.is_terminal() || !output.is_terminal() || !in_front(input.as_fd()) {
            return None;
        }
        let modes = termios::tcgetattr(input.as_fd()).ok()?;
        Some(TerminalModes { modes })
    }

    /// Sets them again, if this process's group is in front (a job in the
    /// background must not change the modes of the one in front).
    pub fn restore(&self) {
        let input = std::io::stdin();
        if in_front(input.as_fd()) {
            let _ = termios::tcsetattr(input.as_fd(), SetArg::TCSANOW, &self.modes);
        }
    }
}

/// Whether this process's group is the terminal's foreground group.
fn in_front(terminal: std::os::fd::BorrowedFd<'_>) -> bool {
    nix::unistd::tcgetpgrp(terminal).is_ok_and(|group| group == nix::unistd::getpgrp())
}

/// Whether the terminal on the standard descriptors has hung up (its
/// window closed, its ssh connection gone): a hung-up terminal polls as
/// hung up, which a pipe's end also does, but a pipe is no character
/// device.
pub fn has_hung_up() -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let (input, output, errors) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let standard = [input.as_fd(), output.as_fd(), errors.as_fd()];
    standard.into_iter().any(|fd| {
        let is_device = nix::sys::stat::fstat(fd)
            .is_ok_and(|stat| stat.st_mode & libc::S_IFMT == libc::S_IFCHR);
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        is_device
            && matches!(poll(&mut fds, PollTimeout::ZERO), Ok(1))
            && fds[0]
                .revents()
                .is_some_and(|events| events.contains(PollFlags::POLLHUP))
    })
}
