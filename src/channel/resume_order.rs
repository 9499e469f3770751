//! What the watcher's resume order carries, in the 64-bit value of the
//! real-time signal it sends the holder: the resume number, and a mark of
//! the file whose change it resumes for.
//!
//! The resumed run gives that file a checkpoint of its own when it reads it
//! again, whatever the weighing says (see `engine::weighing`): the next
//! edit is most often of the same file, and it then re-runs nothing that
//! came before that file. Checkpoints are spaced by their cost, so without
//! this a module read late in a long start-up (often the one being worked
//! on) stayed tied to a checkpoint tens of milliseconds of work before it.

#![forbid(unsafe_code)]

use std::hash::Hasher;

/// The low bits hold the resume number (a trillion resumes), the high ones
/// the changed file's mark.
const NUMBER_BITS: u32 = 40;
const NUMBER_MASK: u64 = (1 << NUMBER_BITS) - 1;
const MARK_MASK: u64 = (1 << (64 - NUMBER_BITS)) - 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResumeOrder {
    pub number: u64,
    /// The changed file's [`mark`]; `None` when no file is named.
    pub changed: Option<u32>,
}

impl ResumeOrder {
    /// The order for resume `number` after a change of `changed`.
    pub fn new(number: u64, changed: Option<&[u8]>) -> ResumeOrder {
        ResumeOrder {
            number: number & NUMBER_MASK,
            changed: changed.map(mark),
        }
    }

    /// The signal's value.
    pub fn value(self) -> u64 {
        (self.number & NUMBER_MASK) | (u64::from(self.changed.unwrap_or(0)) << NUMBER_BITS)
    }

    pub fn from_value(value: u64) -> ResumeOrder {
        let mark = u32::try_from((value >> NUMBER_BITS) & MARK_MASK).unwrap_or(0);
        ResumeOrder {
            number: value & NUMBER_MASK,
            changed: (mark != 0).then_some(mark),
        }
    }
}

/// A short, never zero, hash of an absolute path: the watcher and the
/// program run the same code, so they compute the same mark. Two paths may
/// share one (1 in 16 million): then the other file gets the checkpoint,
/// which costs a fork and changes nothing else.
pub fn mark(path: &[u8]) -> u32 {
    let mut hasher = rustc_hash::FxHasher::default();
    hasher.write(path);
    let mark = u32::try_from(hasher.finish() & MARK_MASK).unwrap_or(0);
    mark.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_carries_the_number_and_the_mark_of_the_changed_file() {
        let order = ResumeOrder::new(7, Some(b"/app/mods/m9999.lua"));
        let back = ResumeOrder::from_value(order.value());
        assert_eq!(back, order);
        assert_eq!(back.number, 7);
        assert_eq!(back.changed, Some(mark(b"/app/mods/m9999.lua")));
        assert_ne!(back.changed, Some(mark(b"/app/mods/m9998.lua")));
    }

    #[test]
    fn an_order_without_a_file_is_the_bare_number() {
        let order = ResumeOrder::new(3, None);
        assert_eq!(order.value(), 3);
        assert_eq!(ResumeOrder::from_value(3), order);
    }

    #[test]
    fn a_mark_is_never_zero_and_fits_beside_the_number() {
        for path in [&b""[..], b"/", b"/a.lua"] {
            let mark = mark(path);
            assert_ne!(mark, 0);
            assert_eq!(u64::from(mark) & !MARK_MASK, 0);
        }
    }
}
