//! What a task's process tells the runner through its pipe, as it goes:
//! which task it starts, each watched file it opens, and how `run` ended.
//! One `write` per message (each well under `PIPE_BUF`, so a message is
//! never split), so what a crashed task read is known up to its crash.

use crate::stamp::FileStamp;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// The reads from here on are the task's at this index of the batch.
    Start(u32),
    Read(Vec<u8>, Option<FileStamp>),
    Wrote(Vec<u8>),
    /// The task at this index of the batch failed (with `together`).
    Failed(u32),
    /// `run` returned; the process exits with this status.
    Done(i32),
}

const START: u8 = 1;
const READ: u8 = 2;
const WROTE: u8 = 3;
const DONE: u8 = 4;
const FAILED: u8 = 5;

/// A message's header: its kind and the length of the rest.
const HEADER: usize = 5;

impl Report {
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        let kind = match self {
            Report::Start(index) => {
                body.extend_from_slice(&index.to_le_bytes());
                START
            }
            Report::Read(path, stamp) => {
                match stamp {
                    Some(stamp) => {
                        body.push(1);
                        body.extend_from_slice(&stamp.to_bytes());
                    }
                    None => body.push(0),
                }
                body.extend_from_slice(path);
                READ
            }
            Report::Wrote(path) => {
                body.extend_from_slice(path);
                WROTE
            }
            Report::Failed(index) => {
                body.extend_from_slice(&index.to_le_bytes());
                FAILED
            }
            Report::Done(status) => {
                body.extend_from_slice(&status.to_le_bytes());
                DONE
            }
        };
        let mut out = Vec::with_capacity(HEADER + body.len());
        out.push(kind);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }
}

/// Splits a byte stream into reports; keeps an incomplete tail for later.
#[derive(Debug, Default)]
pub struct Decoder {
    buffer: Vec<u8>,
}

impl Decoder {
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole report; `Some(None)` for a malformed one (skipped).
    pub fn next_report(&mut self) -> Option<Option<Report>> {
        let (&kind, rest) = self.buffer.split_first()?;
        let length = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let body = rest.get(4..4 + length)?.to_vec();
        self.buffer.drain(..HEADER + length);
        Some(decode(kind, &body))
    }
}

fn decode(kind: u8, body: &[u8]) -> Option<Report> {
    match kind {
        START => Some(Report::Start(u32::from_le_bytes(body.try_into().ok()?))),
        DONE => Some(Report::Done(i32::from_le_bytes(body.try_into().ok()?))),
        FAILED => Some(Report::Failed(u32::from_le_bytes(body.try_into().ok()?))),
        WROTE => Some(Report::Wrote(body.to_vec())),
        READ => match body.first()? {
            0 => Some(Report::Read(body[1..].to_vec(), None)),
            1 => {
                let bytes = body.get(1..1 + FileStamp::ENCODED_LEN)?.try_into().ok()?;
                let stamp = FileStamp::from_bytes(bytes);
                Some(Report::Read(
                    body.get(1 + FileStamp::ENCODED_LEN..)?.to_vec(),
                    Some(stamp),
                ))
            }
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_survive_the_pipe_in_any_pieces() {
        let reports = [
            Report::Start(3),
            Report::Read(
                b"/a/b.lua".to_vec(),
                Some(FileStamp {
                    device: 1,
                    inode: u64::MAX,
                    size: -1,
                    modified: (2, 3),
                    changed: (i64::MIN, 5),
                }),
            ),
            Report::Read(b"/c".to_vec(), None),
            Report::Wrote(b"/out".to_vec()),
            Report::Failed(2),
            Report::Done(-7),
        ];
        let stream: Vec<u8> = reports.iter().flat_map(Report::encode).collect();
        for piece in [1, 2, 7, 64] {
            let mut decoder = Decoder::default();
            let mut got = Vec::new();
            for chunk in stream.chunks(piece) {
                decoder.feed(chunk);
                while let Some(report) = decoder.next_report() {
                    got.push(report.unwrap());
                }
            }
            assert_eq!(got, reports);
        }
    }

    #[test]
    fn a_malformed_report_is_skipped() {
        let mut decoder = Decoder::default();
        decoder.feed(&[9, 1, 0, 0, 0, 0]);
        decoder.feed(&Report::Done(0).encode());
        assert_eq!(decoder.next_report(), Some(None));
        assert_eq!(decoder.next_report(), Some(Some(Report::Done(0))));
        assert_eq!(decoder.next_report(), None);
    }
}
