//! The backtracking matcher: `lstrlib.c`'s recursive `match` /
//! `max_expand` / `min_expand` / `start_capture` / `end_capture`, turned
//! into a loop over an explicit, fixed-size stack of suspended activations.
//!
//! * Depth: every C call of `match` that Lua makes is one activation here;
//!   the 201st nested one raises "pattern too complex" exactly where Lua's
//!   `MAXCCALLS` check does. The Rust stack use is constant (no recursion).
//! * Time: every unit of work (item visited, backtrack, byte scanned by
//!   `%b`, byte compared by a back-reference, start position tried) costs
//!   one step from a per-call budget; running out is [`RunError::Budget`].
//! * No allocation.

use super::MAX_CAPTURES;
use super::MAX_DEPTH;
use super::class::ByteSet;
use super::pattern::{Item, Items, LuaError, Rep};

/// Why a match attempt stopped without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunError {
    /// Lua raises this error here too.
    Lua(LuaError),
    /// Our step budget ran out (Lua would keep going).
    Budget,
}

impl From<LuaError> for RunError {
    fn from(e: LuaError) -> Self {
        RunError::Lua(e)
    }
}

/// What a suspended activation does when the activation it called fails.
#[derive(Debug, Clone, Copy)]
enum Resume {
    /// `start_capture`: undo the capture (static here), fail.
    StartCapture,
    /// `end_capture`: reopen the capture, fail.
    EndCapture(u8),
    /// `max_expand`: retry with one repetition less.
    Max,
    /// `min_expand`: retry with one repetition more.
    Min,
    /// `?`: continue without the optional character.
    Opt,
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    resume: Resume,
    /// Index of the item that made the call.
    item: usize,
    /// Subject position (base for `Max`, current for `Min`, original for `Opt`).
    s: usize,
    /// Repetitions still to try for `Max`.
    i: usize,
}

const EMPTY_FRAME: Frame = Frame {
    resume: Resume::StartCapture,
    item: 0,
    s: 0,
    i: 0,
};

/// Capture length sentinels, as in `lstrlib.c`.
const CAP_UNFINISHED: usize = usize::MAX;
const CAP_POSITION: usize = usize::MAX - 1;

#[derive(Debug, Clone, Copy)]
struct Capture {
    init: usize,
    len: usize,
}

/// Frames needed by small patterns; larger ones get `MAX_DEPTH`.
const SMALL_STACK: usize = 16;

struct State<'a, 'f> {
    items: &'a [Item],
    subject: &'a [u8],
    steps: u64,
    caps: [Capture; MAX_CAPTURES],
    stack: &'f mut [Frame],
}

impl State<'_, '_> {
    #[inline]
    fn tick(&mut self, n: u64) -> Result<(), RunError> {
        match self.steps.checked_sub(n) {
            Some(left) => {
                self.steps = left;
                Ok(())
            }
            None => Err(RunError::Budget),
        }
    }

    #[inline]
    fn byte(&self, s: usize) -> Option<u8> {
        self.subject.get(s).copied()
    }

    /// `singlematch` for item `k` (which must be a `Single`).
    fn single_at(&self, k: usize, s: usize) -> bool {
        match (self.items.get(k), self.byte(s)) {
            (Some(Item::Single { set, .. }), Some(c)) => set.contains(c),
            _ => false,
        }
    }

    /// Suspends the running activation and "calls" `match` again.
    fn push(&mut self, sp: &mut usize, frame: Frame) -> Result<(), RunError> {
        // Active activations are sp + 1; Lua errors on entering the
        // (MAXCCALLS + 1)-th.
        if sp.saturating_add(1) >= MAX_DEPTH {
            return Err(LuaError::TooComplex.into());
        }
        match self.stack.get_mut(*sp) {
            Some(slot) => {
                *slot = frame;
                *sp = sp.saturating_add(1);
                Ok(())
            }
            // Cannot happen: the stack is sized from the static depth bound.
            None => Err(LuaError::TooComplex.into()),
        }
    }

    /// `matchbalance`: end of the balanced run starting at `s`, if any.
    fn balance(&mut self, s: usize, open: u8, close: u8) -> Result<Option<usize>, RunError> {
        if self.byte(s) != Some(open) {
            return Ok(None);
        }
        let rest = self.subject.get(s.saturating_add(1)..).unwrap_or(&[]);
        let mut depth = 1usize;
        for (n, &c) in rest.iter().enumerate() {
            if c == close {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    self.tick(n as u64)?;
                    return Ok(Some(s.saturating_add(n).saturating_add(2)));
                }
            } else if c == open {
                depth = depth.saturating_add(1);
            }
        }
        self.tick(rest.len() as u64)?;
        Ok(None)
    }

    /// `match_capture`: end of a repetition of capture `index` at `s`.
    fn back_ref(&mut self, s: usize, index: u8) -> Result<Option<usize>, RunError> {
        let Some(cap) = self.caps.get(usize::from(index)).copied() else {
            return Ok(None);
        };
        if cap.len == CAP_POSITION || cap.len == CAP_UNFINISHED {
            // A position capture's "length" is (size_t)-2: never fits.
            return Ok(None);
        }
        self.tick(cap.len as u64)?;
        let Some(end) = s.checked_add(cap.len) else {
            return Ok(None);
        };
        let captured = self.subject.get(cap.init..cap.init.saturating_add(cap.len));
        let here = self.subject.get(s..end);
        match (captured, here) {
            (Some(a), Some(b)) if a == b => Ok(Some(end)),
            _ => Ok(None),
        }
    }

    /// `match(ms, s, p)` for the first item `k`: end of the match, if any.
    fn run(&mut self, s: usize, k: usize) -> Result<Option<usize>, RunError> {
        let mut s = s;
        let mut k = k;
        let mut sp = 0usize;
        'call: loop {
            // The body of one activation (`init:` label in lstrlib.c).
            'init: loop {
                self.tick(1)?;
                let Some(item) = self.items.get(k) else {
                    break 'init;
                };
                match item {
                    Item::End => return Ok(Some(s)),
                    Item::EndAnchor => {
                        if s == self.subject.len() {
                            return Ok(Some(s));
                        }
                        break 'init;
                    }
                    Item::Fail(e) => return Err((*e).into()),
                    Item::Open { index, position } => {
                        if let Some(c) = self.caps.get_mut(usize::from(*index)) {
                            *c = Capture {
                                init: s,
                                len: if *position {
                                    CAP_POSITION
                                } else {
                                    CAP_UNFINISHED
                                },
                            };
                        }
                        let f = Frame {
                            resume: Resume::StartCapture,
                            item: k,
                            s,
                            i: 0,
                        };
                        self.push(&mut sp, f)?;
                        k = k.saturating_add(1);
                    }
                    Item::Close { index } => {
                        if let Some(c) = self.caps.get_mut(usize::from(*index)) {
                            c.len = s.saturating_sub(c.init);
                        }
                        let f = Frame {
                            resume: Resume::EndCapture(*index),
                            item: k,
                            s,
                            i: 0,
                        };
                        self.push(&mut sp, f)?;
                        k = k.saturating_add(1);
                    }
                    Item::Balance { open, close } => {
                        let (open, close) = (*open, *close);
                        match self.balance(s, open, close)? {
                            Some(e) => {
                                s = e;
                                k = k.saturating_add(1);
                            }
                            None => break 'init,
                        }
                    }
                    Item::Frontier { set } => {
                        let prev = match s.checked_sub(1) {
                            Some(i) => self.byte(i).unwrap_or(0),
                            None => 0,
                        };
                        let cur = self.byte(s).unwrap_or(0);
                        if !set.contains(prev) && set.contains(cur) {
                            k = k.saturating_add(1);
                        } else {
                            break 'init;
                        }
                    }
                    Item::BackRef { index } => {
                        let index = *index;
                        match self.back_ref(s, index)? {
                            Some(e) => {
                                s = e;
                                k = k.saturating_add(1);
                            }
                            None => break 'init,
                        }
                    }
                    Item::Single { set, rep } => {
                        let (set, rep) = (*set, *rep);
                        let matched = self.byte(s).is_some_and(|c| set.contains(c));
                        if !matched {
                            match rep {
                                Rep::Star | Rep::Opt | Rep::Minus => k = k.saturating_add(1),
                                Rep::One | Rep::Plus => break 'init,
                            }
                            continue 'init;
                        }
                        match rep {
                            Rep::One => {
                                s = s.saturating_add(1);
                                k = k.saturating_add(1);
                            }
                            Rep::Opt => {
                                let f = Frame {
                                    resume: Resume::Opt,
                                    item: k,
                                    s,
                                    i: 0,
                                };
                                self.push(&mut sp, f)?;
                                s = s.saturating_add(1);
                                k = k.saturating_add(1);
                            }
                            Rep::Star | Rep::Plus => {
                                let base = if rep == Rep::Plus {
                                    s.saturating_add(1)
                                } else {
                                    s
                                };
                                let rest = self.subject.get(base..).unwrap_or(&[]);
                                let i = count_run(rest, &set);
                                self.tick(i as u64)?;
                                let f = Frame {
                                    resume: Resume::Max,
                                    item: k,
                                    s: base,
                                    i,
                                };
                                self.push(&mut sp, f)?;
                                s = base.saturating_add(i);
                                k = k.saturating_add(1);
                            }
                            Rep::Minus => {
                                let f = Frame {
                                    resume: Resume::Min,
                                    item: k,
                                    s,
                                    i: 0,
                                };
                                self.push(&mut sp, f)?;
                                k = k.saturating_add(1);
                            }
                        }
                    }
                }
            }
            // The running activation failed: resume the one that called it.
            loop {
                let Some(top) = sp.checked_sub(1) else {
                    return Ok(None);
                };
                self.tick(1)?;
                let Some(f) = self.stack.get(top).copied() else {
                    return Ok(None);
                };
                match f.resume {
                    Resume::StartCapture => sp = top,
                    Resume::EndCapture(index) => {
                        if let Some(c) = self.caps.get_mut(usize::from(index)) {
                            c.len = CAP_UNFINISHED;
                        }
                        sp = top;
                    }
                    Resume::Max => {
                        if let Some(i) = f.i.checked_sub(1) {
                            if let Some(slot) = self.stack.get_mut(top) {
                                slot.i = i;
                            }
                            s = f.s.saturating_add(i);
                            k = f.item.saturating_add(1);
                            continue 'call;
                        }
                        sp = top;
                    }
                    Resume::Min => {
                        if self.single_at(f.item, f.s) {
                            let next = f.s.saturating_add(1);
                            if let Some(slot) = self.stack.get_mut(top) {
                                slot.s = next;
                            }
                            s = next;
                            k = f.item.saturating_add(1);
                            continue 'call;
                        }
                        sp = top;
                    }
                    Resume::Opt => {
                        sp = top;
                        s = f.s;
                        k = f.item.saturating_add(1);
                        continue 'call;
                    }
                }
            }
        }
    }
}

/// Number of leading bytes of `rest` in `set`.
#[inline]
fn count_run(rest: &[u8], set: &ByteSet) -> usize {
    rest.iter().take_while(|&&c| set.contains(c)).count()
}

/// `str_find_aux` (pattern branch) from `init`: the match range, if any.
pub(crate) fn find(
    prog: &Items,
    subject: &[u8],
    init: usize,
    budget: u64,
) -> Result<Option<(usize, usize)>, RunError> {
    if prog.max_depth <= SMALL_STACK {
        let mut stack = [EMPTY_FRAME; SMALL_STACK];
        find_with_stack(prog, subject, init, budget, &mut stack)
    } else {
        let mut stack = [EMPTY_FRAME; MAX_DEPTH];
        find_with_stack(prog, subject, init, budget, &mut stack)
    }
}

fn find_with_stack(
    prog: &Items,
    subject: &[u8],
    init: usize,
    budget: u64,
    stack: &mut [Frame],
) -> Result<Option<(usize, usize)>, RunError> {
    if init > subject.len() {
        return Ok(None);
    }
    let mut st = State {
        items: &prog.items,
        subject,
        steps: budget,
        caps: [Capture {
            init: 0,
            len: CAP_UNFINISHED,
        }; MAX_CAPTURES],
        stack,
    };
    let mut s1 = init;
    loop {
        if let Some(first) = &prog.first {
            // Start positions whose byte the first item cannot consume fail
            // immediately in Lua (no error possible there): skip them.
            let rest = subject.get(s1..).unwrap_or(&[]);
            let skip = rest.iter().take_while(|&&c| !first.contains(c)).count();
            st.tick(skip as u64)?;
            s1 = s1.saturating_add(skip);
            if s1 >= subject.len() {
                return Ok(None);
            }
        }
        if let Some(e) = st.run(s1, 0)? {
            if prog.unfinished_at_end {
                return Err(LuaError::UnfinishedCapture.into());
            }
            return Ok(Some((s1, e)));
        }
        // do { ... } while (s1++ < ms.src_end && !anchor);
        if s1 >= subject.len() || prog.anchor {
            return Ok(None);
        }
        s1 = s1.saturating_add(1);
    }
}

/// `lmemfind` from `init`: Lua's plain search for patterns without
/// special characters.
pub(crate) fn find_plain(
    needle: &[u8],
    subject: &[u8],
    init: usize,
    budget: u64,
) -> Result<Option<(usize, usize)>, RunError> {
    let Some(hay) = subject.get(init..) else {
        return Ok(None);
    };
    let Some((&first, tail)) = needle.split_first() else {
        return Ok(Some((init, init)));
    };
    let Some(last_start) = hay.len().checked_sub(needle.len()) else {
        return Ok(None);
    };
    let mut steps = budget;
    let mut pos = 0usize;
    while pos <= last_start {
        let window = hay.get(pos..=last_start).unwrap_or(&[]);
        let Some(off) = window.iter().position(|&c| c == first) else {
            return Ok(None);
        };
        let cost = (off as u64).saturating_add(needle.len() as u64);
        steps = steps.checked_sub(cost).ok_or(RunError::Budget)?;
        let at = pos.saturating_add(off);
        let cand = hay.get(at.saturating_add(1)..at.saturating_add(needle.len()));
        if cand == Some(tail) {
            let start = init.saturating_add(at);
            return Ok(Some((start, start.saturating_add(needle.len()))));
        }
        pos = at.saturating_add(1);
    }
    Ok(None)
}
