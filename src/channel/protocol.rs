//! What a checkpointing process tells the watcher, as one journal record.

#![forbid(unsafe_code)]

use crate::stamp::FileStamp;

/// One holder in the chain of checkpoints above a process.
///
/// `generation` is the resume number of the child that holder runs now (0
/// for its first child): a registration sent by a child the holder has since
/// replaced carries an old generation, so the watcher knows it is stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub holder: i32,
    pub generation: u64,
}

/// What a registration says about the checkpoint at the end of `lineage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// "I am about to fork and hold a checkpoint for `path`."
    Checkpoint = 1,
    /// "The fork failed: forget that checkpoint."
    Withdraw = 2,
    /// "Tie `path` to the checkpoint at the end of `lineage` (my holder)."
    Attach = 3,
    /// "I am about to write `path` myself: that is no edit."
    OwnWrite = 4,
    /// "Tie `path`, which I looked for and did not find": its coming
    /// resumes, its absence is no news.
    AttachMissing = 5,
    /// "I am about to write `path`, tied to no checkpoint, in the directory
    /// watched as `dir_watch`": should I tie it before the write's events
    /// come (a config generated, then required), they are no edit.
    OwnWriteUntied = 6,
}

/// A message to the watcher: `lineage` ends with the (new) holder;
/// `dir_watch` is the inotify watch of the directory of `path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    pub kind: Kind,
    pub lineage: Vec<Link>,
    pub dir_watch: i32,
    pub path: Vec<u8>,
    /// Time from the program's start to this checkpoint, in microseconds:
    /// the start-up a resume from it skips.
    pub elapsed_micros: u64,
    /// The file as the program read it (checkpoints and attached files).
    pub stamp: Option<FileStamp>,
}

/// A registration as the program sends it: borrowed, so that tying a file
/// copies neither the lineage nor the path.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    pub kind: Kind,
    pub lineage: &'a [Link],
    pub dir_watch: i32,
    pub path: &'a [u8],
    pub elapsed_micros: u64,
    pub stamp: Option<FileStamp>,
}

impl Message<'_> {
    /// Encodes into `out`, replacing what it held.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.clear();
        out.push(self.kind as u8);
        out.extend_from_slice(&(self.lineage.len() as u32).to_le_bytes());
        for link in self.lineage {
            out.extend_from_slice(&link.holder.to_le_bytes());
            out.extend_from_slice(&link.generation.to_le_bytes());
        }
        out.extend_from_slice(&self.dir_watch.to_le_bytes());
        out.extend_from_slice(&self.elapsed_micros.to_le_bytes());
        match &self.stamp {
            Some(stamp) => {
                out.push(1);
                out.extend_from_slice(&stamp.to_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(self.path);
    }
}

impl Registration {
    pub fn message(&self) -> Message<'_> {
        Message {
            kind: self.kind,
            lineage: &self.lineage,
            dir_watch: self.dir_watch,
            path: &self.path,
            elapsed_micros: self.elapsed_micros,
            stamp: self.stamp,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(74 + self.lineage.len() * 12 + self.path.len());
        self.message().encode_into(&mut out);
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Registration> {
        let mut reader = Reader(bytes);
        let kind = match reader.take::<1>()? {
            [1] => Kind::Checkpoint,
            [2] => Kind::Withdraw,
            [3] => Kind::Attach,
            [4] => Kind::OwnWrite,
            [5] => Kind::AttachMissing,
            [6] => Kind::OwnWriteUntied,
            _ => return None,
        };
        let count = u32::from_le_bytes(reader.take()?) as usize;
        let mut lineage = Vec::with_capacity(count.min(bytes.len() / 12));
        for _ in 0..count {
            let holder = i32::from_le_bytes(reader.take()?);
            let generation = u64::from_le_bytes(reader.take()?);
            lineage.push(Link { holder, generation });
        }
        let dir_watch = i32::from_le_bytes(reader.take()?);
        let elapsed_micros = u64::from_le_bytes(reader.take()?);
        let stamp = match reader.take::<1>()? {
            [0] => None,
            [1] => Some(FileStamp::from_bytes(&reader.take()?)),
            _ => return None,
        };
        let path = reader.0.to_vec();
        (!lineage.is_empty() && path.starts_with(b"/")).then_some(Registration {
            kind,
            lineage,
            dir_watch,
            path,
            elapsed_micros,
            stamp,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registration_survives_the_round_trip() {
        let registration = Registration {
            kind: Kind::Withdraw,
            lineage: vec![
                Link {
                    holder: 10,
                    generation: 0,
                },
                Link {
                    holder: 11,
                    generation: 7,
                },
            ],
            dir_watch: 3,
            path: b"/tmp/app/m\xffod.lua".to_vec(),
            elapsed_micros: 0,
            stamp: None,
        };
        assert_eq!(
            Registration::decode(&registration.encode()),
            Some(registration.clone())
        );
        let registration = Registration {
            stamp: Some(FileStamp {
                device: 1,
                inode: u64::MAX,
                size: -1,
                modified: (2, 3),
                changed: (i64::MIN, 999_999_999),
            }),
            ..registration
        };
        assert_eq!(
            Registration::decode(&registration.encode()),
            Some(registration)
        );
    }

    #[test]
    fn truncated_or_odd_packets_are_refused() {
        let registration = Registration {
            kind: Kind::Checkpoint,
            lineage: vec![Link {
                holder: 10,
                generation: 0,
            }],
            dir_watch: 3,
            path: b"/a".to_vec(),
            elapsed_micros: 0,
            stamp: Some(FileStamp {
                device: 1,
                inode: 2,
                size: 3,
                modified: (4, 5),
                changed: (6, 7),
            }),
        };
        let bytes = registration.encode();
        // Anything shorter than the header and a '/' is refused.
        for cut in 0..bytes.len() - 1 {
            assert_eq!(Registration::decode(&bytes[..cut]), None, "cut at {cut}");
        }
        assert_eq!(Registration::decode(&[1, 255, 255, 255, 255]), None);
        assert_eq!(Registration::decode(&[9, 0, 0, 0, 0]), None);
    }
}
