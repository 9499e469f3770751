//! What a fork does not copy, so that a checkpoint made now would resume
//! a copy that misses it: the program's own child processes (a resumed
//! copy could not wait for them: `pclose` and `waitpid` say ECHILD) and its
//! POSIX timers (`timer_create`; a copy has none). While the program has
//! any, no checkpoint is made. (Interval timers and `alarm` are armed again
//! in each new child instead: see `sys::timers`.)

#![forbid(unsafe_code)]

use crate::sys::procfs;

/// Why no checkpoint is made now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Obstacle {
    Children(usize),
    PosixTimers(usize),
}

impl Obstacle {
    /// What in the program's state a fork would not copy, if anything. Two
    /// reads in /proc, at a checkpoint only (where a fork follows anyway);
    /// what cannot be read is taken as absent.
    pub fn now() -> Option<Obstacle> {
        let children = procfs::children().map_or(0, |children| children.len());
        if children > 0 {
            return Some(Obstacle::Children(children));
        }
        let timers = procfs::posix_timer_count().unwrap_or(0);
        (timers > 0).then_some(Obstacle::PosixTimers(timers))
    }

    /// Which of the kinds this is (each is said once).
    pub fn kind(self) -> usize {
        match self {
            Obstacle::Children(_) => 0,
            Obstacle::PosixTimers(_) => 1,
        }
    }

    /// The line for it, at the checkpoint of `path`; `first` if the
    /// program has no checkpoint yet (then nothing read meanwhile can be
    /// watched: no checkpoint comes before it).
    pub fn describe(self, path: &str, first: bool) -> String {
        let (what, lost) = match self {
            Obstacle::Children(1) => (
                "1 child process of its own".to_owned(),
                "could not wait for it",
            ),
            Obstacle::Children(n) => (
                format!("{n} child processes of its own"),
                "could not wait for them",
            ),
            Obstacle::PosixTimers(1) => (
                "1 POSIX timer (timer_create)".to_owned(),
                "would not have it",
            ),
            Obstacle::PosixTimers(n) => (
                format!("{n} POSIX timers (timer_create)"),
                "would not have them",
            ),
        };
        let meanwhile = if first {
            "there is no checkpoint before it yet, so files read meanwhile are not watched: \
             their edits are not seen"
        } else {
            "files read meanwhile are tied to the last checkpoint"
        };
        format!(
            "the program has {what} at '{path}': a resumed copy {lost}, so no checkpoint is made \
             while it has any; {meanwhile} (said once a run)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_obstacle_says_what_a_resumed_copy_would_miss() {
        assert_eq!(
            Obstacle::Children(1).describe("/a.lua", false),
            "the program has 1 child process of its own at '/a.lua': a resumed copy could not \
             wait for it, so no checkpoint is made while it has any; files read meanwhile are \
             tied to the last checkpoint (said once a run)"
        );
        assert!(
            Obstacle::PosixTimers(2)
                .describe("/a.lua", false)
                .starts_with("the program has 2 POSIX timers (timer_create) at '/a.lua': a resumed copy would not have them,")
        );
        assert!(
            Obstacle::Children(2)
                .describe("/a.lua", true)
                .ends_with("there is no checkpoint before it yet, so files read meanwhile are not watched: their edits are not seen (said once a run)")
        );
    }
}
