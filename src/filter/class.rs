//! Character classes and sets, exactly as `lstrlib.c` interprets them
//! (`match_class`, `matchbracketclass`, `classEnd`), in the C locale.
//!
//! Every single-character item of a pattern (`x`, `.`, `%a`, `[...]`) is
//! turned into a 256-bit [`ByteSet`] at compile time by evaluating Lua's own
//! membership function for every byte value, so the matcher only does a bit
//! test.

/// Byte of `pat` at `i`, or `0` past the end: Lua strings carry a trailing
/// NUL that `lstrlib.c` reads in a few places, and this mirrors that.
pub(crate) fn at(pat: &[u8], i: usize) -> u8 {
    pat.get(i).copied().unwrap_or(0)
}

/// A set of bytes (256 bits).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ByteSet([u64; 4]);

impl ByteSet {
    pub(crate) const EMPTY: ByteSet = ByteSet([0; 4]);

    pub(crate) fn insert(&mut self, c: u8) {
        if let Some(w) = self.0.get_mut(usize::from(c >> 6)) {
            *w |= 1u64 << (c & 63);
        }
    }

    #[inline]
    pub(crate) fn contains(&self, c: u8) -> bool {
        match self.0.get(usize::from(c >> 6)) {
            Some(w) => (w >> (c & 63)) & 1 == 1,
            None => false,
        }
    }

    /// The set of all bytes `c` for which `f(c)` holds.
    pub(crate) fn from_fn(f: impl Fn(u8) -> bool) -> ByteSet {
        let mut set = ByteSet::EMPTY;
        for c in 0..=u8::MAX {
            if f(c) {
                set.insert(c);
            }
        }
        set
    }
}

impl std::fmt::Debug for ByteSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ByteSet(")?;
        for w in self.0.iter().rev() {
            write!(f, "{w:016x}")?;
        }
        f.write_str(")")
    }
}

/// C-locale `<ctype.h>` predicates (ASCII only; bytes >= 0x80 are in no class).
fn is_alpha(c: u8) -> bool {
    c.is_ascii_alphabetic()
}
fn is_cntrl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}
fn is_digit(c: u8) -> bool {
    c.is_ascii_digit()
}
fn is_graph(c: u8) -> bool {
    (0x21..=0x7e).contains(&c)
}
fn is_lower(c: u8) -> bool {
    c.is_ascii_lowercase()
}
fn is_punct(c: u8) -> bool {
    is_graph(c) && !c.is_ascii_alphanumeric()
}
fn is_space(c: u8) -> bool {
    c == b' ' || (0x09..=0x0d).contains(&c)
}
fn is_upper(c: u8) -> bool {
    c.is_ascii_uppercase()
}
fn is_alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}
fn is_xdigit(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

/// `match_class(c, cl)` from `lstrlib.c`: does byte `c` belong to the class
/// written `%cl`? `%z` (NUL) is deprecated but still recognised by Lua 5.4.
/// Unknown class letters and any non-letter stand for themselves.
pub(crate) fn match_class(c: u8, cl: u8) -> bool {
    let res = match cl.to_ascii_lowercase() {
        b'a' => is_alpha(c),
        b'c' => is_cntrl(c),
        b'd' => is_digit(c),
        b'g' => is_graph(c),
        b'l' => is_lower(c),
        b'p' => is_punct(c),
        b's' => is_space(c),
        b'u' => is_upper(c),
        b'w' => is_alnum(c),
        b'x' => is_xdigit(c),
        // Deprecated since 5.2 but still in Lua 5.4's lstrlib.c.
        b'z' => c == 0,
        _ => return cl == c,
    };
    if is_upper(cl) { !res } else { res }
}

/// `matchbracketclass(c, p, ec)` from `lstrlib.c`: `open` is the index of
/// the `[` and `close` the index of the `]` that ends the set (as found by
/// [`class_end`]).
pub(crate) fn match_bracket_class(c: u8, pat: &[u8], open: usize, close: usize) -> bool {
    let mut p = open;
    let mut sig = true;
    if at(pat, p.saturating_add(1)) == b'^' {
        sig = false;
        p = p.saturating_add(1);
    }
    loop {
        p = p.saturating_add(1);
        if p >= close {
            break;
        }
        let pc = at(pat, p);
        if pc == b'%' {
            p = p.saturating_add(1);
            if match_class(c, at(pat, p)) {
                return sig;
            }
        } else if at(pat, p.saturating_add(1)) == b'-' && p.saturating_add(2) < close {
            p = p.saturating_add(2);
            if pc <= c && c <= at(pat, p) {
                return sig;
            }
        } else if pc == c {
            return sig;
        }
    }
    !sig
}

/// Errors `classEnd` can raise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClassEndError {
    /// `malformed pattern (ends with '%')`
    EndsWithPercent,
    /// `malformed pattern (missing ']')`
    MissingBracket,
}

/// `classEnd(ms, p)` from `lstrlib.c`: index just past the single-character
/// class starting at `p` (`x`, `%x` or `[...]`).
pub(crate) fn class_end(pat: &[u8], p: usize) -> Result<usize, ClassEndError> {
    let end = pat.len();
    let first = at(pat, p);
    let mut p = p.saturating_add(1);
    match first {
        b'%' => {
            if p >= end {
                Err(ClassEndError::EndsWithPercent)
            } else {
                Ok(p.saturating_add(1))
            }
        }
        b'[' => {
            if at(pat, p) == b'^' {
                p = p.saturating_add(1);
            }
            // do { ... } while (*p != ']')
            loop {
                if p >= end {
                    return Err(ClassEndError::MissingBracket);
                }
                let c = at(pat, p);
                p = p.saturating_add(1);
                if c == b'%' && p < end {
                    p = p.saturating_add(1); // skip escapes (e.g. '%]')
                }
                if at(pat, p) == b']' {
                    break;
                }
            }
            Ok(p.saturating_add(1))
        }
        _ => Ok(p),
    }
}

/// The set of bytes matched by the single-character class `pat[p..ep]`
/// (`ep` as returned by [`class_end`]); `singlematch` in `lstrlib.c`.
pub(crate) fn single_class_set(pat: &[u8], p: usize, ep: usize) -> ByteSet {
    match at(pat, p) {
        b'.' => ByteSet::from_fn(|_| true),
        b'%' => {
            let cl = at(pat, p.saturating_add(1));
            ByteSet::from_fn(|c| match_class(c, cl))
        }
        b'[' => {
            let close = ep.saturating_sub(1);
            ByteSet::from_fn(|c| match_bracket_class(c, pat, p, close))
        }
        lit => ByteSet::from_fn(|c| c == lit),
    }
}

#[cfg(test)]
#[allow(clippy::panic, clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn set(pat: &str) -> ByteSet {
        let pat = pat.as_bytes();
        let ep = class_end(pat, 0).unwrap_or(0);
        single_class_set(pat, 0, ep)
    }

    fn members(s: ByteSet) -> Vec<u8> {
        (0..=u8::MAX).filter(|&c| s.contains(c)).collect()
    }

    #[test]
    fn classes_are_c_locale_ascii() {
        assert_eq!(members(set("%d")), b"0123456789".to_vec());
        assert_eq!(members(set("%x")), b"0123456789ABCDEFabcdef".to_vec());
        assert_eq!(members(set("%s")), b"\t\n\x0b\x0c\r ".to_vec());
        assert!(!set("%a").contains(0xe9));
        assert!(set("%A").contains(0xe9));
        assert_eq!(members(set("%c")).len(), 33);
        assert_eq!(members(set("%p")).len(), 32);
        assert_eq!(members(set("%g")).len(), 94);
        assert_eq!(members(set("%w")).len(), 62);
        assert_eq!(members(set("%u")), (b'A'..=b'Z').collect::<Vec<_>>());
        assert_eq!(members(set("%l")), (b'a'..=b'z').collect::<Vec<_>>());
    }

    #[test]
    fn percent_z_is_still_nul_in_lua54() {
        assert_eq!(members(set("%z")), b"\0".to_vec());
        assert_eq!(members(set("%Z")).len(), 255);
        assert_eq!(members(set("%q")), b"q".to_vec());
        assert_eq!(members(set("%.")), b".".to_vec());
    }

    #[test]
    fn bracket_sets() {
        assert_eq!(members(set("[]]")), b"]".to_vec());
        assert_eq!(members(set("[^]]")).len(), 255);
        assert_eq!(members(set("[a-]")), b"-a".to_vec());
        assert_eq!(members(set("[-a]")), b"-a".to_vec());
        assert_eq!(members(set("[a-c]")), b"abc".to_vec());
        assert_eq!(members(set("[c-a]")), Vec::<u8>::new());
        assert_eq!(members(set("[%]]")), b"]".to_vec());
        assert_eq!(members(set("[%a-z]")).len(), 53); // %a, '-', 'z'
        assert_eq!(members(set("[^%d]")).len(), 246);
        assert_eq!(members(set("[]-a]")), (b']'..=b'a').collect::<Vec<_>>());
    }

    #[test]
    fn class_end_errors() {
        assert_eq!(class_end(b"%", 0), Err(ClassEndError::EndsWithPercent));
        assert_eq!(class_end(b"[a", 0), Err(ClassEndError::MissingBracket));
        assert_eq!(class_end(b"[", 0), Err(ClassEndError::MissingBracket));
        assert_eq!(class_end(b"[]", 0), Err(ClassEndError::MissingBracket));
        assert_eq!(class_end(b"[^]", 0), Err(ClassEndError::MissingBracket));
        assert_eq!(class_end(b"[%]", 0), Err(ClassEndError::MissingBracket));
        assert_eq!(class_end(b"[a%", 0), Err(ClassEndError::MissingBracket));
        assert_eq!(class_end(b"[]]x", 0), Ok(3));
        assert_eq!(class_end(b"%ax", 0), Ok(2));
        assert_eq!(class_end(b"ax", 0), Ok(1));
    }
}
