//! Input a fork does not copy: bytes waiting in a pipe or socket the
//! program reads, or an eventfd's count, at a checkpoint. The holder and
//! every run from the checkpoint share the one pipe: the first run reads
//! what waits there, and a run resumed later finds it gone (and may wait
//! for it forever). forkmon cannot give it back; it says so, once.

#![forbid(unsafe_code)]

use crate::sys;

/// Input waiting at a checkpoint that only one run will read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub fd: i32,
    /// What the descriptor is: "a pipe", "a socket", "an eventfd".
    pub kind: &'static str,
    /// Bytes, or the eventfd's count.
    pub amount: u64,
}

impl Waiting {
    /// The first descriptor of this process, other than forkmon's `own`,
    /// with input waiting; terminals are left out (what is typed is for
    /// the run in front).
    /// `open` is what this process has open now (`procfs::descriptors`).
    pub fn now(open: &[(i32, std::path::PathBuf)], own: &[i32]) -> Option<Waiting> {
        let me = nix::unistd::getpid();
        open.iter()
            .filter(|(fd, _)| !own.contains(fd))
            .map(|(fd, target)| (*fd, target))
            .find_map(|(fd, target)| {
                let target = target.as_os_str().as_encoded_bytes();
                let kind = kind_of(target)?;
                // The end of a pipe the program writes holds what its
                // reader has not read yet (its own output): only ends that
                // read.
                if kind == "a pipe" && !sys::procfs::descriptor_reads(me, fd) {
                    return None;
                }
                let amount = if kind == "an eventfd" {
                    sys::procfs::eventfd_count(fd)?
                } else {
                    sys::bytes_waiting(fd)?
                };
                (amount > 0).then_some(Waiting { fd, kind, amount })
            })
    }

    /// The line for it, at the checkpoint of `path`.
    pub fn describe(&self, path: &str) -> String {
        let what = if self.kind == "an eventfd" {
            format!("a count of {}", self.amount)
        } else if self.amount == 1 {
            "1 byte".to_owned()
        } else {
            format!("{} bytes", self.amount)
        };
        format!(
            "at the checkpoint of '{path}' the program has {what} waiting in descriptor {} \
             ({}): the run going on now reads it, the runs resumed from there will not find it \
             (said once)",
            self.fd, self.kind
        )
    }
}

/// What a descriptor leading to `target` (its `/proc` link) is, if it is
/// one whose waiting input is shared with the runs after it.
fn kind_of(target: &[u8]) -> Option<&'static str> {
    if target.starts_with(b"pipe:") {
        Some("a pipe")
    } else if target.starts_with(b"socket:") {
        Some("a socket")
    } else if target == b"anon_inode:[eventfd]" {
        Some("an eventfd")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_sockets_and_eventfds_are_shared_input_and_files_are_not() {
        assert_eq!(kind_of(b"pipe:[12]"), Some("a pipe"));
        assert_eq!(kind_of(b"socket:[12]"), Some("a socket"));
        assert_eq!(kind_of(b"anon_inode:[eventfd]"), Some("an eventfd"));
        assert_eq!(kind_of(b"/dev/pts/3"), None);
        assert_eq!(kind_of(b"/home/you/data.txt"), None);
        assert_eq!(kind_of(b"anon_inode:[timerfd]"), None);
    }

    #[test]
    fn the_line_names_the_descriptor_and_what_waits() {
        let pipe = Waiting {
            fd: 3,
            kind: "a pipe",
            amount: 5,
        };
        assert_eq!(
            pipe.describe("a.txt"),
            "at the checkpoint of 'a.txt' the program has 5 bytes waiting in descriptor 3 (a \
             pipe): the run going on now reads it, the runs resumed from there will not find it \
             (said once)"
        );
        let count = Waiting {
            fd: 4,
            kind: "an eventfd",
            amount: 1,
        };
        assert!(
            count
                .describe("a.txt")
                .contains("a count of 1 waiting in descriptor 4")
        );
    }
}
