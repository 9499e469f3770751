//! Compiling one pattern: the static walk `lstrlib.c`'s `match` makes over
//! the pattern text, turned into a flat list of [`Item`]s.
//!
//! Lua parses a pattern piece by piece *while* matching, so the sequence of
//! pieces ("items") it walks through is fixed by the pattern text alone: only
//! whether the matcher gets that far depends on the subject. An item on
//! which Lua would raise an error becomes [`Item::Fail`] and ends the list;
//! the matcher raises it only when it reaches it (exactly like Lua), while
//! eager validation ([`Program::eager_error`]) rejects any program that
//! contains one.

use super::class::{ByteSet, ClassEndError, at, class_end, single_class_set};
use super::{MAX_CAPTURES, MAX_DEPTH};

/// An error Lua raises while matching, by kind; rendered with Lua's wording
/// by [`LuaError::reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LuaError {
    EndsWithPercent,
    MissingBracket,
    MissingFrontierBracket,
    MissingBalanceArgs,
    /// `invalid capture index %N`, N being the digit written after `%`.
    InvalidCaptureIndex(u8),
    InvalidPatternCapture,
    UnfinishedCapture,
    TooManyCaptures,
    /// Lua's `MAXCCALLS` recursion limit.
    TooComplex,
}

impl LuaError {
    /// Lua 5.4's own error text (without position prefix).
    pub(crate) fn reason(self) -> String {
        match self {
            LuaError::EndsWithPercent => "malformed pattern (ends with '%')".into(),
            LuaError::MissingBracket => "malformed pattern (missing ']')".into(),
            LuaError::MissingFrontierBracket => "missing '[' after '%f' in pattern".into(),
            LuaError::MissingBalanceArgs => "malformed pattern (missing arguments to '%b')".into(),
            LuaError::InvalidCaptureIndex(n) => format!("invalid capture index %{n}"),
            LuaError::InvalidPatternCapture => "invalid pattern capture".into(),
            LuaError::UnfinishedCapture => "unfinished capture".into(),
            LuaError::TooManyCaptures => "too many captures".into(),
            LuaError::TooComplex => "pattern too complex".into(),
        }
    }
}

impl From<ClassEndError> for LuaError {
    fn from(e: ClassEndError) -> Self {
        match e {
            ClassEndError::EndsWithPercent => LuaError::EndsWithPercent,
            ClassEndError::MissingBracket => LuaError::MissingBracket,
        }
    }
}

/// Quantifier after a single-character class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rep {
    /// no suffix: exactly once
    One,
    /// `?`
    Opt,
    /// `*` (greedy)
    Star,
    /// `+` (greedy)
    Plus,
    /// `-` (lazy)
    Minus,
}

impl Rep {
    /// Does this quantifier make the matcher recurse (`lstrlib.c` calls
    /// `match` for it)? `?` only does when the class matched.
    pub(crate) fn recurses(self) -> bool {
        !matches!(self, Rep::One)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// `x`, `.`, `%x`, `[set]`, optionally quantified.
    Single { set: ByteSet, rep: Rep },
    /// `(` (or `()` when `position`), opening capture number `index`.
    Open { index: u8, position: bool },
    /// `)` closing capture number `index`.
    Close { index: u8 },
    /// `$` as the last pattern character.
    EndAnchor,
    /// `%bxy`
    Balance { open: u8, close: u8 },
    /// `%f[set]`
    Frontier { set: ByteSet },
    /// `%1`..`%9`, already checked to name a capture closed at this point
    /// (or a position capture).
    BackRef { index: u8 },
    /// End of pattern: success.
    End,
    /// Lua raises this error when the matcher reaches this point.
    Fail(LuaError),
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(crate) enum Program {
    /// Pattern without any of Lua's special characters `^$*+?.([%-`:
    /// Lua does a plain substring search (`nospecials` → `lmemfind`). Note
    /// this means `)` alone is a literal, not an error.
    Plain(Vec<u8>),
    Items(Items),
}

#[derive(Debug, Clone)]
pub(crate) struct Items {
    /// Pattern started with `^`.
    pub(crate) anchor: bool,
    /// Never empty: ends with [`Item::End`] or [`Item::Fail`].
    pub(crate) items: Vec<Item>,
    /// A successful match raises "unfinished capture" (a `(` never closed).
    pub(crate) unfinished_at_end: bool,
    /// Upper bound of nested `match` activations on any subject
    /// (1 + number of items that recurse).
    pub(crate) max_depth: usize,
    /// If set, a match can only start at a byte in this set (the first item
    /// must consume one such byte); used to skip start positions that are
    /// certain to fail without side effects.
    pub(crate) first: Option<ByteSet>,
}

/// `nospecials` from `lstrlib.c`.
fn no_specials(pat: &[u8]) -> bool {
    !pat.iter().any(|c| b"^$*+?.([%-".contains(c))
}

/// Capture state during the static walk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CapShape {
    Unfinished,
    Position,
    Closed,
}

impl Program {
    /// Compiles `pat`; never fails: errors are embedded as [`Item::Fail`].
    pub(crate) fn compile(pat: &[u8]) -> Program {
        if no_specials(pat) {
            return Program::Plain(pat.to_vec());
        }
        let anchor = at(pat, 0) == b'^';
        let mut p = usize::from(anchor);
        let end = pat.len();
        let mut items = Vec::new();
        let mut caps: Vec<CapShape> = Vec::new();
        let mut recursing = 0usize;
        loop {
            if p >= end {
                items.push(Item::End);
                break;
            }
            let item = match at(pat, p) {
                b'(' => {
                    if caps.len() >= MAX_CAPTURES {
                        Item::Fail(LuaError::TooManyCaptures)
                    } else {
                        let index = u8::try_from(caps.len()).unwrap_or(u8::MAX);
                        let position = at(pat, p.saturating_add(1)) == b')';
                        if position {
                            caps.push(CapShape::Position);
                            p = p.saturating_add(2);
                        } else {
                            caps.push(CapShape::Unfinished);
                            p = p.saturating_add(1);
                        }
                        recursing = recursing.saturating_add(1);
                        Item::Open { index, position }
                    }
                }
                b')' => match caps.iter().rposition(|&c| c == CapShape::Unfinished) {
                    None => Item::Fail(LuaError::InvalidPatternCapture),
                    Some(l) => {
                        if let Some(c) = caps.get_mut(l) {
                            *c = CapShape::Closed;
                        }
                        p = p.saturating_add(1);
                        recursing = recursing.saturating_add(1);
                        Item::Close {
                            index: u8::try_from(l).unwrap_or(u8::MAX),
                        }
                    }
                },
                b'$' if p.saturating_add(1) == end => {
                    p = p.saturating_add(1);
                    Item::EndAnchor
                }
                b'%' => match at(pat, p.saturating_add(1)) {
                    b'b' => {
                        let args = p.saturating_add(2);
                        // `p >= ms->p_end - 1` in matchbalance
                        if args.saturating_add(1) >= end {
                            Item::Fail(LuaError::MissingBalanceArgs)
                        } else {
                            let item = Item::Balance {
                                open: at(pat, args),
                                close: at(pat, args.saturating_add(1)),
                            };
                            p = p.saturating_add(4);
                            item
                        }
                    }
                    b'f' => {
                        let open = p.saturating_add(2);
                        if at(pat, open) != b'[' {
                            Item::Fail(LuaError::MissingFrontierBracket)
                        } else {
                            match class_end(pat, open) {
                                Err(e) => Item::Fail(e.into()),
                                Ok(ep) => {
                                    p = ep;
                                    Item::Frontier {
                                        set: single_class_set(pat, open, ep),
                                    }
                                }
                            }
                        }
                    }
                    d @ b'0'..=b'9' => {
                        // check_capture: l = d - '1'
                        let valid = d
                            .checked_sub(b'1')
                            .map(usize::from)
                            .filter(|&l| l < caps.len())
                            .filter(|&l| caps.get(l) != Some(&CapShape::Unfinished));
                        match valid {
                            None => {
                                Item::Fail(LuaError::InvalidCaptureIndex(d.saturating_sub(b'0')))
                            }
                            Some(l) => {
                                p = p.saturating_add(2);
                                Item::BackRef {
                                    index: u8::try_from(l).unwrap_or(u8::MAX),
                                }
                            }
                        }
                    }
                    _ => single(pat, &mut p, &mut recursing),
                },
                _ => single(pat, &mut p, &mut recursing),
            };
            let stop = matches!(item, Item::Fail(_));
            items.push(item);
            if stop {
                break;
            }
        }
        let unfinished_at_end = caps.contains(&CapShape::Unfinished);
        let first = if anchor {
            None
        } else {
            match items.first() {
                Some(Item::Single {
                    set,
                    rep: Rep::One | Rep::Plus,
                }) => Some(*set),
                _ => None,
            }
        };
        Program::Items(Items {
            anchor,
            items,
            unfinished_at_end,
            max_depth: recursing.saturating_add(1),
            first,
        })
    }

    /// The error Lua could raise on *some* subject with this program, if
    /// any (see the module docs of `filter` for the exact rule).
    pub(crate) fn eager_error(&self) -> Option<LuaError> {
        match self {
            Program::Plain(_) => None,
            Program::Items(it) => {
                if let Some(Item::Fail(e)) = it.items.last() {
                    Some(*e)
                } else if it.max_depth > MAX_DEPTH {
                    Some(LuaError::TooComplex)
                } else if it.unfinished_at_end {
                    Some(LuaError::UnfinishedCapture)
                } else {
                    None
                }
            }
        }
    }
}

/// The default case of `match`: a single-character class plus optional
/// quantifier, starting at `*p`.
fn single(pat: &[u8], p: &mut usize, recursing: &mut usize) -> Item {
    match class_end(pat, *p) {
        Err(e) => Item::Fail(e.into()),
        Ok(ep) => {
            let set = single_class_set(pat, *p, ep);
            let rep = match at(pat, ep) {
                b'?' => Rep::Opt,
                b'*' => Rep::Star,
                b'+' => Rep::Plus,
                b'-' => Rep::Minus,
                _ => Rep::One,
            };
            *p = if rep == Rep::One {
                ep
            } else {
                ep.saturating_add(1)
            };
            if rep.recurses() {
                *recursing = recursing.saturating_add(1);
            }
            Item::Single { set, rep }
        }
    }
}

#[cfg(test)]
#[allow(clippy::panic, clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn items(p: &str) -> Vec<Item> {
        match Program::compile(p.as_bytes()) {
            Program::Items(it) => it.items,
            Program::Plain(_) => panic!("plain"),
        }
    }

    fn eager(p: &str) -> Option<LuaError> {
        Program::compile(p.as_bytes()).eager_error()
    }

    #[test]
    fn plain_patterns() {
        assert!(matches!(Program::compile(b""), Program::Plain(_)));
        assert!(matches!(Program::compile(b")"), Program::Plain(_)));
        assert!(matches!(Program::compile(b"abc]"), Program::Plain(_)));
        assert!(matches!(Program::compile(b"a.c"), Program::Items(_)));
    }

    #[test]
    fn item_walk() {
        assert_eq!(items("^$").last(), Some(&Item::End));
        assert_eq!(items("x$").get(1), Some(&Item::EndAnchor));
        assert!(matches!(items("$x").first(), Some(Item::Single { .. })));
        assert_eq!(
            items("%bxy").first(),
            Some(&Item::Balance {
                open: b'x',
                close: b'y'
            })
        );
        assert_eq!(
            items("()").first(),
            Some(&Item::Open {
                index: 0,
                position: true
            })
        );
        assert_eq!(items("(a)%1").get(3), Some(&Item::BackRef { index: 0 }));
        assert_eq!(items("()%1").get(1), Some(&Item::BackRef { index: 0 }));
    }

    #[test]
    fn eager_errors() {
        assert_eq!(eager("%"), Some(LuaError::EndsWithPercent));
        assert_eq!(eager("a%"), Some(LuaError::EndsWithPercent));
        assert_eq!(eager("[a"), Some(LuaError::MissingBracket));
        assert_eq!(eager("[^"), Some(LuaError::MissingBracket));
        assert_eq!(eager("%f"), Some(LuaError::MissingFrontierBracket));
        assert_eq!(eager("%fa"), Some(LuaError::MissingFrontierBracket));
        assert_eq!(eager("%f[a"), Some(LuaError::MissingBracket));
        assert_eq!(eager("%b"), Some(LuaError::MissingBalanceArgs));
        assert_eq!(eager("%bx"), Some(LuaError::MissingBalanceArgs));
        assert_eq!(eager("%0"), Some(LuaError::InvalidCaptureIndex(0)));
        assert_eq!(eager("%1"), Some(LuaError::InvalidCaptureIndex(1)));
        assert_eq!(eager("(a%1)"), Some(LuaError::InvalidCaptureIndex(1)));
        assert_eq!(eager("(a)%2"), Some(LuaError::InvalidCaptureIndex(2)));
        assert_eq!(eager(")("), Some(LuaError::InvalidPatternCapture));
        assert_eq!(eager("()a)"), Some(LuaError::InvalidPatternCapture));
        assert_eq!(eager("(a"), Some(LuaError::UnfinishedCapture));
        assert_eq!(eager(&"(".repeat(33)), Some(LuaError::TooManyCaptures));
        assert_eq!(eager(&"()".repeat(32)), None);
        assert_eq!(eager(&"a?".repeat(199)), None);
        assert_eq!(eager(&"a?".repeat(200)), Some(LuaError::TooComplex));
        assert_eq!(eager(")"), None);
        assert_eq!(eager("()%1"), None);
        assert_eq!(eager("%z"), None);
    }
}
