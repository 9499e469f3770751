//! Path filters written as Lua 5.4 patterns.
//!
//! A [`Filter`] is a `;`-separated list of Lua patterns; a path passes the
//! filter if **any** pattern finds a match in it, i.e. if
//! `string.find(path, pattern) ~= nil` in Lua 5.4 for some pattern.
//!
//! # Pattern semantics
//!
//! Exactly those of Lua 5.4's `string.find` (`lstrlib.c`, manual §6.4.1),
//! on bytes, in the C locale: classes `%a %c %d %g %l %p %s %u %w %x` and
//! their upper-case complements are ASCII-only (bytes `>= 0x80` belong to
//! no class); `%z`/`%Z` (NUL / non-NUL) are deprecated but, as in
//! `lua5.4`, still recognised; `%` followed by any other non-class byte
//! matches that byte; sets `[...]` with ranges, classes,
//! `^` complement and `]` allowed as first member; quantifiers `* + - ?`;
//! `^` anchors only at the pattern start and `$` only at its end (elsewhere
//! they are literals); `%bxy`, `%f[set]`, captures `(...)`, position
//! captures `()` and back-references `%1`-`%9`. Like Lua, a pattern without
//! any of the characters `^$*+?.([%-` is searched for as a plain substring
//! (so `")"` alone is a literal, not an error). The empty pattern matches at
//! the start position.
//!
//! The matcher is a faithful, iterative transcription of `lstrlib.c`, so it
//! explores the same alternatives in the same order, reports the same match
//! and raises the same errors at the same moments. It never panics, does
//! not recurse, does not allocate while matching (only building an error
//! value does), keeps its backtracking stack in a fixed array of at most
//! [`MAX_DEPTH`] 32-byte frames and gives up after [`STEP_BUDGET`] steps.
//! Lua's own "pattern too complex" (its `MAXCCALLS` depth limit, mirrored
//! exactly) and budget exhaustion are both [`FilterError::TooComplex`].
//!
//! # Errors: eager versus lazy
//!
//! Lua reports a malformed pattern only when its matcher *reaches* the
//! offending piece, so whether `string.find` raises depends on the subject
//! (`string.find("b", "a%")` returns nil, `string.find("a", "a%")` raises).
//! Lua walks the pieces of a pattern strictly left to right and the sequence
//! of pieces depends on the pattern text alone, so each piece has a fixed
//! "error if reached" status. The rule used here:
//!
//! * [`Pattern::compile`] (and so [`Filter::parse`]) rejects a pattern iff
//!   1. one of its pieces raises an error when reached (`%` at the end, an
//!      unclosed `[`, `%f` without `[`, `%b` without two arguments, a
//!      back-reference to a capture that does not exist or is still open at
//!      that point, `)` without an open capture, a 33rd capture), or
//!   2. it has more than [`MAX_DEPTH`]` - 1` pieces that make Lua's matcher
//!      recurse (captures, `)`, quantified classes), so that Lua's depth
//!      limit could be hit ("pattern too complex"), or
//!   3. a capture is still open at the end ("unfinished capture", raised by
//!      Lua on a successful match).
//!
//!   The first applicable reason is reported, with Lua's wording. This is a
//!   superset of "Lua raises on some subject": it rejects more only when
//!   the offending piece can never be reached, because the pieces before it
//!   can never match (e.g. `[^\0-\xff]`, `%f[%a]%d` or `1%f[^a]` before it)
//!   or the depth can never actually be attained. Such patterns are never useful.
//!   A pattern accepted by `compile` never makes Lua raise, on any subject;
//!   [`Pattern::find`] then only fails on budget exhaustion.
//! * [`Pattern::compile_lazy`] never fails; its [`Pattern::find`] reports
//!   exactly what Lua reports for that subject (error or result). It exists
//!   for the differential test against `lua5.4` and for callers that want
//!   bit-for-bit Lua behaviour.
//!
//! # Filter spec
//!
//! [`Filter::parse`] splits the spec on every `;`. A `;` therefore always
//! separates patterns and cannot be matched by a filter, not even as `%;`
//! or `[;]` (those get split too). Empty items (leading, trailing, or
//! between `;;`) are ignored; items are *not* trimmed, since paths may
//! contain spaces (`" %.lua$"` requires a space before `.lua`).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
#![forbid(unsafe_code)]

mod class;
mod matcher;
mod pattern;

use matcher::RunError;
use pattern::{LuaError, Program};

/// Maximum number of nested matcher activations: Lua's `MAXCCALLS`.
pub const MAX_DEPTH: usize = 200;

/// Maximum number of captures: Lua's `LUA_MAXCAPTURES`.
pub const MAX_CAPTURES: usize = 32;

/// Matcher steps allowed per [`Pattern::find`] call (per pattern, per
/// subject). Typical path filters use well under a hundred.
pub const STEP_BUDGET: u64 = 1_000_000;

/// An error compiling or running a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterError {
    /// Lua 5.4 would raise this error for this pattern; `reason` is Lua's
    /// own message, e.g. `malformed pattern (missing ']')`.
    Malformed {
        /// The offending pattern (lossy UTF-8).
        pattern: String,
        /// Lua's wording of the error.
        reason: String,
    },
    /// The pattern is too complex: the step budget ([`STEP_BUDGET`]) ran
    /// out while matching, or Lua's recursion limit ([`MAX_DEPTH`], Lua's
    /// own "pattern too complex") was or could be reached.
    TooComplex {
        /// The offending pattern (lossy UTF-8).
        pattern: String,
    },
}

impl FilterError {
    fn from_lua(e: LuaError, pat: &[u8]) -> FilterError {
        let pattern = String::from_utf8_lossy(pat).into_owned();
        match e {
            LuaError::TooComplex => FilterError::TooComplex { pattern },
            e => FilterError::Malformed {
                pattern,
                reason: e.reason(),
            },
        }
    }

    fn from_run(e: RunError, pat: &[u8]) -> FilterError {
        match e {
            RunError::Lua(e) => FilterError::from_lua(e, pat),
            RunError::Budget => FilterError::TooComplex {
                pattern: String::from_utf8_lossy(pat).into_owned(),
            },
        }
    }

    /// The message Lua 5.4 would give (`"pattern too complex"` for
    /// [`FilterError::TooComplex`]).
    pub fn reason(&self) -> &str {
        match self {
            FilterError::Malformed { reason, .. } => reason,
            FilterError::TooComplex { .. } => "pattern too complex",
        }
    }

    /// The offending pattern (lossy UTF-8).
    pub fn pattern(&self) -> &str {
        match self {
            FilterError::Malformed { pattern, .. } | FilterError::TooComplex { pattern } => pattern,
        }
    }
}

impl std::fmt::Display for FilterError {
    /// `malformed pattern (missing ']') in pattern '[a'`; reasons that
    /// already end in "in pattern" just get the pattern appended.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reason = self.reason();
        // On one line: a pattern may hold any character.
        let pattern = crate::log::one_line(self.pattern());
        if reason.ends_with(" in pattern") {
            write!(f, "{reason} '{pattern}'")
        } else {
            write!(f, "{reason} in pattern '{pattern}'")
        }
    }
}

impl std::error::Error for FilterError {}

/// One compiled Lua pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: Vec<u8>,
    program: Program,
    /// What every match of an anchored pattern ends with (`.lua` for
    /// `%.lua$`), if that can be told from the text.
    literal_end: Option<Vec<u8>>,
    /// The pattern is nothing but its literal end and `$` (`%.lua$`): a
    /// path matches when it ends so, found without running the matcher.
    only_literal_end: bool,
}

impl Pattern {
    /// Compiles and validates `pat`, rejecting every pattern on which Lua
    /// could raise an error for some subject (see the module docs).
    pub fn compile(pat: &[u8]) -> Result<Pattern, FilterError> {
        let p = Pattern::compile_lazy(pat);
        match p.program.eager_error() {
            Some(e) => Err(FilterError::from_lua(e, pat)),
            None => Ok(p),
        }
    }

    /// Compiles `pat` without validating it: errors are reported by
    /// [`Pattern::find`] only when Lua would report them for that subject.
    pub fn compile_lazy(pat: &[u8]) -> Pattern {
        Pattern {
            source: pat.to_vec(),
            program: Program::compile(pat),
            literal_end: literal_end(pat).map(|(end, _)| end),
            only_literal_end: literal_end(pat).is_some_and(|(_, whole)| whole),
        }
    }

    /// Like Lua's `string.find(subject, pat, init)` with `init` as a 0-based
    /// byte index (already clamped; `init > subject.len()` finds nothing).
    /// Returns the 0-based half-open range of the match.
    pub fn find(&self, subject: &[u8], init: usize) -> Result<Option<(usize, usize)>, FilterError> {
        self.find_with_budget(subject, init, STEP_BUDGET)
    }

    /// [`Pattern::find`] with an explicit step budget instead of
    /// [`STEP_BUDGET`].
    pub fn find_with_budget(
        &self,
        subject: &[u8],
        init: usize,
        budget: u64,
    ) -> Result<Option<(usize, usize)>, FilterError> {
        let res = match &self.program {
            Program::Plain(needle) => matcher::find_plain(needle, subject, init, budget),
            Program::Items(items) => matcher::find(items, subject, init, budget),
        };
        res.map_err(|e| FilterError::from_run(e, &self.source))
    }

    /// The pattern text.
    pub fn source(&self) -> &[u8] {
        &self.source
    }
}

/// A compiled `;`-separated list of Lua patterns.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    patterns: Vec<Pattern>,
}

impl Filter {
    /// Compiles a `;`-separated list of patterns (see the module docs for
    /// the splitting rules). Fails on the first invalid pattern.
    pub fn parse(spec: &str) -> Result<Filter, FilterError> {
        let patterns = spec
            .split(';')
            .filter(|item| !item.is_empty())
            .map(|item| Pattern::compile(item.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Filter { patterns })
    }

    /// True if any pattern finds a match in `path`. Patterns are tried in
    /// order; a pattern that exhausts its step budget does not stop the
    /// others: the error is returned only if no pattern matched.
    pub fn matches(&self, path: &[u8]) -> Result<bool, FilterError> {
        let mut failure = None;
        for p in &self.patterns {
            if let (true, Some(end)) = (p.only_literal_end, &p.literal_end) {
                if path.ends_with(end) {
                    return Ok(true);
                }
                continue;
            }
            match p.find(path, 0) {
                Ok(Some(_)) => return Ok(true),
                Ok(None) => {}
                Err(e) => {
                    if failure.is_none() {
                        failure = Some(e);
                    }
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(false),
        }
    }

    /// True if the filter has no patterns (e.g. the spec was `""` or `";;"`).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// True if no pattern can match any path whose last component is
    /// `name`: every pattern ends in literal text and `$`, and `name` does
    /// not end as any of them does. Lets the hooks pass by most opens
    /// without building the absolute path. (`name` must be a real
    /// component: not empty, `.` or `..`.)
    pub fn cannot_match_name(&self, name: &[u8]) -> bool {
        self.patterns.iter().all(|p| match &p.literal_end {
            None => false,
            Some(end) => {
                let tail = end.rsplit(|&b| b == b'/').next().unwrap_or_default();
                // After a '/', the name is the whole tail; else it ends so.
                if end.contains(&b'/') {
                    name != tail
                } else {
                    !name.ends_with(tail)
                }
            }
        })
    }

    /// The compiled patterns, in spec order.
    pub fn patterns(&self) -> impl Iterator<Item = &Pattern> {
        self.patterns.iter()
    }
}

/// The literal text every match of `pat` ends with, when `pat` ends with an
/// anchoring `$`: read backwards up to the first character that is not
/// plain (a class, a quantifier, a set, a capture). `None` if there is
/// none, or if `%b` or `%f` (whose ends are not plain to read) appear;
/// with whether that text is the whole pattern but its `$`.
fn literal_end(pat: &[u8]) -> Option<(Vec<u8>, bool)> {
    // Whether each byte is escaped: an odd run of '%' comes before it.
    let mut escaped = Vec::with_capacity(pat.len());
    let mut percents = 0usize;
    for &b in pat {
        escaped.push(percents % 2 == 1);
        percents = if b == b'%' {
            percents.saturating_add(1)
        } else {
            0
        };
    }
    let (&last, body) = pat.split_last()?;
    let (&last_escaped, body_escaped) = escaped.split_last()?;
    if last != b'$' || last_escaped {
        return None;
    }
    if pat.windows(2).any(|w| w == b"%b" || w == b"%f") {
        return None;
    }
    let mut end = Vec::new();
    let mut whole = true;
    let mut backwards = body.iter().zip(body_escaped).rev();
    while let Some((&c, &is_escaped)) = backwards.next() {
        if is_escaped {
            if c.is_ascii_alphanumeric() {
                whole = false;
                break;
            }
            end.push(c);
            // The '%' that escapes it.
            backwards.next();
        } else if b"^$*+?.()[]%-".contains(&c) {
            whole = false;
            break;
        } else {
            end.push(c);
        }
    }
    end.reverse();
    (!end.is_empty()).then_some((end, whole))
}

#[cfg(test)]
mod tests;
