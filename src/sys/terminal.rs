//! The terminal's modes at a checkpoint, set again when a run resumes from
//! it: a run killed while it had the terminal raw or without echo (a
//! REPL's line editor, a game's key reading) would leave it so, and the
//! new run goes on from a point where the program had it as it was then.

#![forbid(unsafe_code)]

use std::os::fd::AsFd;

use nix::sys::termios::{self, SetArg, Termios};

/// Which of the standard streams the terminal was read through.
#[derive(Clone, Copy)]
enum Stream {
    Input,
    Output,
    Error,
}

impl Stream {
    fn with_fd<T>(self, f: impl FnOnce(std::os::fd::BorrowedFd<'_>) -> T) -> T {
        match self {
            Stream::Input => f(std::io::stdin().as_fd()),
            Stream::Output => f(std::io::stdout().as_fd()),
            Stream::Error => f(std::io::stderr().as_fd()),
        }
    }
}

pub struct TerminalModes {
    stream: Stream,
    modes: Termios,
}

impl TerminalModes {
    /// The modes of the program's terminal (through stdin, else stdout,
    /// else stderr), if it has one.
    pub fn read() -> Option<TerminalModes> {
        [Stream::Input, Stream::Output, Stream::Error]
            .into_iter()
            .find_map(|stream| {
                let modes = stream.with_fd(|fd| termios::tcgetattr(fd).ok())?;
                Some(TerminalModes { stream, modes })
            })
    }

    /// Sets them again, if this process's group has the terminal (a
    /// background job must not change the modes of the one in front).
    pub fn restore(&self) {
        self.stream.with_fd(|fd| {
            let in_front =
                nix::unistd::tcgetpgrp(fd).is_ok_and(|group| group == nix::unistd::getpgrp());
            if in_front {
                let _ = termios::tcsetattr(fd, SetArg::TCSANOW, &self.modes);
            }
        });
    }
}
