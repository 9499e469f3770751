//! The current directory, remembered between opens. A getcwd(2) per
//! relative open was about half of the preload's cost for an open that is
//! not watched. The chdir and fchdir hooks mark the copy out of date; the
//! copy is used only where those hooks are live (the preload way in).
//!
//! The copy is a sequence lock over atomics: any thread may read it, a
//! writer that finds it busy does not wait, and nothing allocates.

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering, fence};

use crate::paths::CAPACITY;
use crate::sys;

/// Set once the chdir hooks are live: only then can a copy be trusted.
static TRUSTED: AtomicBool = AtomicBool::new(false);
/// Moved by every change of directory.
static GENERATION: AtomicU64 = AtomicU64::new(0);

struct Copy {
    /// Odd while a writer is at it; 0 before the first copy.
    sequence: AtomicU64,
    generation: AtomicU64,
    len: AtomicUsize,
    bytes: [AtomicU8; CAPACITY],
}

static COPY: Copy = Copy {
    sequence: AtomicU64::new(0),
    generation: AtomicU64::new(0),
    len: AtomicUsize::new(0),
    bytes: [const { AtomicU8::new(0) }; CAPACITY],
};

/// The chdir hooks are live in this process.
pub fn trust_copies() {
    TRUSTED.store(true, Ordering::SeqCst);
}

/// How many times the directory changed, while the chdir hooks are live:
/// the same relative path names the same file as long as this stays.
pub fn generation() -> Option<u64> {
    TRUSTED
        .load(Ordering::Relaxed)
        .then(|| GENERATION.load(Ordering::SeqCst))
}

/// The program changed its directory (or is about to).
pub fn changed() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// The current directory written into `buffer`.
pub fn current_dir(buffer: &mut [u8]) -> Option<&[u8]> {
    if !TRUSTED.load(Ordering::Relaxed) {
        return sys::current_dir(buffer);
    }
    let generation = GENERATION.load(Ordering::SeqCst);
    let sequence = COPY.sequence.load(Ordering::Acquire);
    if let Some(len) = read_copy(sequence, generation, buffer) {
        return buffer.get(..len);
    }
    let found = sys::current_dir(buffer)?;
    write_copy(sequence, generation, found);
    Some(found)
}

fn read_copy(sequence: u64, generation: u64, buffer: &mut [u8]) -> Option<usize> {
    if sequence == 0 || sequence % 2 == 1 || COPY.generation.load(Ordering::Relaxed) != generation {
        return None;
    }
    let len = COPY.len.load(Ordering::Relaxed);
    let target = buffer.get_mut(..len)?;
    for (to, from) in target.iter_mut().zip(&COPY.bytes) {
        *to = from.load(Ordering::Relaxed);
    }
    fence(Ordering::Acquire);
    (COPY.sequence.load(Ordering::Relaxed) == sequence).then_some(len)
}

fn write_copy(sequence: u64, generation: u64, found: &[u8]) {
    if sequence % 2 == 1
        || found.len() > CAPACITY
        || COPY
            .sequence
            .compare_exchange(sequence, sequence + 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    fence(Ordering::Release);
    for (to, &from) in COPY.bytes.iter().zip(found) {
        to.store(from, Ordering::Relaxed);
    }
    COPY.len.store(found.len(), Ordering::Relaxed);
    COPY.generation.store(generation, Ordering::Relaxed);
    COPY.sequence.store(sequence + 2, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_serves_until_the_directory_changes() {
        trust_copies();
        let mut buffer = [0u8; CAPACITY];
        let actual = std::env::current_dir().expect("cwd");
        let first = current_dir(&mut buffer).map(<[u8]>::to_vec);
        assert_eq!(
            first.as_deref(),
            Some(actual.as_os_str().as_encoded_bytes())
        );
        // A stale copy is served while no change was announced...
        write_copy(
            COPY.sequence.load(Ordering::SeqCst),
            GENERATION.load(Ordering::SeqCst),
            b"/stale",
        );
        assert_eq!(current_dir(&mut buffer), Some(&b"/stale"[..]));
        // ...and dropped once one is.
        changed();
        assert_eq!(
            current_dir(&mut buffer),
            Some(actual.as_os_str().as_encoded_bytes())
        );
    }
}
