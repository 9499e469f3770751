//! Unit tests of the public API, per feature. Expected values were checked
//! against `lua5.4` (`string.find`, 1-based inclusive there, 0-based
//! half-open here).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use super::*;
use std::time::{Duration, Instant};

fn find(pat: &str, s: &str) -> Option<(usize, usize)> {
    Pattern::compile(pat.as_bytes())
        .unwrap_or_else(|e| panic!("{pat:?}: {e}"))
        .find(s.as_bytes(), 0)
        .unwrap_or_else(|e| panic!("{pat:?} on {s:?}: {e}"))
}

fn lazy(pat: &str, s: &str) -> Result<Option<(usize, usize)>, String> {
    Pattern::compile_lazy(pat.as_bytes())
        .find(s.as_bytes(), 0)
        .map_err(|e| e.reason().to_string())
}

fn compile_err(pat: &str) -> String {
    match Pattern::compile(pat.as_bytes()) {
        Ok(_) => panic!("{pat:?} compiled"),
        Err(e) => e.reason().to_string(),
    }
}

#[test]
fn literals_and_dot() {
    assert_eq!(find("b", "abc"), Some((1, 2)));
    assert_eq!(find("a.c", "xxabc"), Some((2, 5)));
    assert_eq!(find(".", ""), None);
    assert_eq!(find("x", "abc"), None);
}

#[test]
fn empty_pattern_matches_at_start() {
    assert_eq!(find("", "abc"), Some((0, 0)));
    assert_eq!(find("", ""), Some((0, 0)));
    let p = Pattern::compile(b"").unwrap();
    assert_eq!(p.find(b"abc", 2).unwrap(), Some((2, 2)));
    assert_eq!(p.find(b"abc", 3).unwrap(), Some((3, 3)));
    assert_eq!(p.find(b"abc", 4).unwrap(), None);
}

#[test]
fn classes() {
    assert_eq!(find("%d+", "ab123c"), Some((2, 5)));
    assert_eq!(find("%a+", "12ab3"), Some((2, 4)));
    assert_eq!(find("%A+", "ab12c"), Some((2, 4)));
    assert_eq!(find("%s", "a\tb"), Some((1, 2)));
    assert_eq!(find("%x+", "zzBEEFg"), Some((2, 6)));
    assert_eq!(find("%p", "ab/c"), Some((2, 3)));
    assert_eq!(find("%w+", "..a1.."), Some((2, 4)));
    assert_eq!(find("%u%l", "aBc"), Some((1, 3)));
    assert_eq!(find("%c", "a\x7f"), Some((1, 2)));
    assert_eq!(find("%g", " \u{e9}x"), Some((3, 4))); // é bytes are no class
}

#[test]
fn percent_z_still_means_nul_in_lua54() {
    // Deprecated since 5.2, but lua5.4 (5.4.4) still implements it.
    assert_eq!(find("%z", "a\0z"), Some((1, 2)));
    assert_eq!(find("%Z", "zZ"), Some((0, 1)));
    assert_eq!(find("[%z]", "a\0z"), Some((1, 2)));
}

#[test]
fn escapes() {
    assert_eq!(find("%.lua$", "x.lua"), Some((1, 5)));
    assert_eq!(find("%[", "a[b"), Some((1, 2)));
    assert_eq!(find("%%%(", "a%(b"), Some((1, 3)));
    assert_eq!(find("%-", "a-b"), Some((1, 2)));
}

#[test]
fn sets() {
    assert_eq!(find("[]]", "a]b"), Some((1, 2)));
    assert_eq!(find("[^]]", "]]a"), Some((2, 3)));
    assert_eq!(find("[a-]", "x-"), Some((1, 2)));
    assert_eq!(find("[%a-z]+", "1-z-b2"), Some((1, 5)));
    assert_eq!(find("[0-9a-f]+", "xx0fz"), Some((2, 4)));
    assert_eq!(find("[^/]+$", "/a/b/file.txt"), Some((5, 13)));
    assert_eq!(find("[%]]", "a]"), Some((1, 2)));
}

#[test]
fn quantifiers() {
    assert_eq!(find("a-b", "aaab"), Some((0, 4)));
    assert_eq!(find("a*", "baa"), Some((0, 0)));
    assert_eq!(find("a+", "baa"), Some((1, 3)));
    assert_eq!(find("ba?c", "bc"), Some((0, 2)));
    assert_eq!(find("<.->", "<a><b>"), Some((0, 3)));
    assert_eq!(find("<.*>", "<a><b>"), Some((0, 6)));
    assert_eq!(find("x*$", "abxx"), Some((2, 4)));
    assert_eq!(find("a**", "aa**"), Some((0, 3))); // second '*' is literal
}

#[test]
fn anchors() {
    assert_eq!(find("^ab", "abab"), Some((0, 2)));
    assert_eq!(find("^b", "abab"), None);
    assert_eq!(find("$", "abc"), Some((3, 3)));
    assert_eq!(find("a$b", "a$b"), Some((0, 3))); // '$' not at end: literal
    assert_eq!(find("a^b", "a^b"), Some((0, 3))); // '^' not at start: literal
    assert_eq!(find("^^", "^x"), Some((0, 1)));
    assert_eq!(find("^", "abc"), Some((0, 0)));
    assert_eq!(find("%$$", "a$"), Some((1, 2)));
}

#[test]
fn balance_and_frontier() {
    assert_eq!(find("%b()", "x(a(b)c)d"), Some((1, 8)));
    assert_eq!(find("%b()", "x(a(b"), None);
    assert_eq!(find("%bxx", "axbxc"), Some((1, 4)));
    assert_eq!(find("%f[%w]%w+", "  hello"), Some((2, 7)));
    assert_eq!(find("%f[%a]", "abc"), Some((0, 0)));
    assert_eq!(find("%f[%z]", "abc"), Some((3, 3)));
    assert_eq!(find("%f[%Z]", "abc"), Some((0, 0)));
    assert_eq!(find("%f[^%w]", "ab"), Some((2, 2))); // '\0' at the end
}

#[test]
fn captures_and_backrefs() {
    assert_eq!(find("(%a+)=%1", "x=y ab=ab"), Some((4, 9)));
    assert_eq!(find("()", "abc"), Some((0, 0)));
    assert_eq!(find("()%1", "abc"), None); // a position capture never repeats
    assert_eq!(find("(a)(b)%2%1", "abba"), Some((0, 4)));
    assert_eq!(find("((a)%2)%1", "aaaa"), Some((0, 4)));
}

#[test]
fn plain_search_when_no_specials() {
    assert_eq!(find(")", "a)"), Some((1, 2)));
    assert_eq!(find("a)b", "xa)b"), Some((1, 4)));
    assert_eq!(find("]", "]"), Some((0, 1)));
    assert_eq!(find("aab", "aaab"), Some((1, 4)));
}

#[test]
fn compile_rejects_everything_lua_can_reject() {
    assert_eq!(compile_err("%"), "malformed pattern (ends with '%')");
    assert_eq!(compile_err("a%"), "malformed pattern (ends with '%')");
    assert_eq!(compile_err("[a"), "malformed pattern (missing ']')");
    assert_eq!(compile_err("[^"), "malformed pattern (missing ']')");
    assert_eq!(compile_err("[]"), "malformed pattern (missing ']')");
    assert_eq!(compile_err("%f"), "missing '[' after '%f' in pattern");
    assert_eq!(compile_err("%f%w"), "missing '[' after '%f' in pattern");
    assert_eq!(
        compile_err("%bx"),
        "malformed pattern (missing arguments to '%b')"
    );
    assert_eq!(compile_err("%0"), "invalid capture index %0");
    assert_eq!(compile_err("%1"), "invalid capture index %1");
    assert_eq!(compile_err("(%1)"), "invalid capture index %1");
    assert_eq!(compile_err("x)("), "invalid pattern capture");
    assert_eq!(compile_err("(()"), "unfinished capture");
    assert_eq!(compile_err(&"(".repeat(33)), "too many captures");
    assert_eq!(compile_err(&"a?".repeat(250)), "pattern too complex");
}

#[test]
fn lazy_errors_depend_on_subject_like_lua() {
    assert_eq!(lazy("a%", "b"), Ok(None));
    assert_eq!(
        lazy("a%", "a"),
        Err("malformed pattern (ends with '%')".into())
    );
    assert_eq!(lazy("(a", "b"), Ok(None));
    assert_eq!(lazy("(a", "a"), Err("unfinished capture".into()));
    assert_eq!(lazy("x%1", "y"), Ok(None));
    assert_eq!(lazy("x%1", "x"), Err("invalid capture index %1".into()));
    let deep = "a?".repeat(250);
    assert_eq!(lazy(&deep, "b"), Ok(Some((0, 0))));
    assert_eq!(
        lazy(&deep, &"a".repeat(300)),
        Err("pattern too complex".into())
    );
    assert_eq!(
        lazy(&"a?".repeat(199), &"a".repeat(300)),
        Ok(Some((0, 199)))
    );
    assert_eq!(
        lazy(&"a?".repeat(200), &"a".repeat(300)),
        Err("pattern too complex".into())
    );
}

#[test]
fn pathological_pattern_hits_budget_quickly() {
    let path = format!("/{}", "a/".repeat(2000));
    assert_eq!(path.len(), 4001);
    let p = Pattern::compile(b"(.-)(.-)(.-)(.-)(.-)(.-)(.-)x").unwrap();
    let t = Instant::now();
    let r = p.find(path.as_bytes(), 0);
    let took = t.elapsed();
    assert!(matches!(r, Err(FilterError::TooComplex { .. })), "{r:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let f = Filter::parse("(.-)(.-)(.-)(.-)(.-)(.-)(.-)x").unwrap();
    assert!(matches!(
        f.matches(path.as_bytes()),
        Err(FilterError::TooComplex { .. })
    ));
    // Another pattern matching rescues the filter.
    let f = Filter::parse("(.-)(.-)(.-)(.-)(.-)(.-)(.-)x;^/a").unwrap();
    assert_eq!(f.matches(path.as_bytes()), Ok(true));
}

#[test]
fn backreferences_terminate() {
    let s = format!("{}={}", "a".repeat(3000), "a".repeat(2999));
    let p = Pattern::compile(b"(%a+)=%1").unwrap();
    let t = Instant::now();
    let r = p.find(s.as_bytes(), 0);
    assert!(t.elapsed() < Duration::from_secs(1));
    assert!(
        matches!(r, Ok(Some(_)) | Err(FilterError::TooComplex { .. })),
        "{r:?}"
    );
    let p = Pattern::compile(b"(.+)%1%1%1$").unwrap();
    let s = "ab".repeat(2000);
    let t = Instant::now();
    let _ = p.find(s.as_bytes(), 0);
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[test]
fn balance_is_budgeted() {
    let s = "(".repeat(5000);
    let p = Pattern::compile(b"%b()").unwrap();
    let r = p.find(s.as_bytes(), 0);
    assert!(matches!(r, Err(FilterError::TooComplex { .. })), "{r:?}");
    assert_eq!(p.find_with_budget(b"(()", 0, 100), Ok(Some((1, 3))));
}

#[test]
fn budget_is_respected() {
    let p = Pattern::compile(b"a*a*a*b").unwrap();
    let s = "a".repeat(200);
    assert!(matches!(
        p.find_with_budget(s.as_bytes(), 0, 1000),
        Err(FilterError::TooComplex { .. })
    ));
    assert_eq!(p.find_with_budget(b"aab", 0, 1000), Ok(Some((0, 3))));
}

#[test]
fn filter_parse_rules() {
    assert!(Filter::parse("").unwrap().is_empty());
    assert!(Filter::parse(";;").unwrap().is_empty());
    let f = Filter::parse(";%.lua$;;%.nelua$;").unwrap();
    assert_eq!(f.patterns().count(), 2);
    let srcs: Vec<&[u8]> = f.patterns().map(|p| p.source()).collect();
    assert_eq!(srcs, vec![&b"%.lua$"[..], &b"%.nelua$"[..]]);
    assert_eq!(f.matches(b"/home/u/x.lua"), Ok(true));
    assert_eq!(f.matches(b"/home/u/x.nelua"), Ok(true));
    assert_eq!(f.matches(b"/home/u/x.luac"), Ok(false));
    assert_eq!(Filter::parse("").unwrap().matches(b"/x"), Ok(false));
    // not trimmed
    let f = Filter::parse(" x").unwrap();
    assert_eq!(f.matches(b"/a x"), Ok(true));
    assert_eq!(f.matches(b"/ax"), Ok(false));
}

#[test]
fn filter_errors_name_the_pattern() {
    let e = Filter::parse("%.lua$;[a;ok").unwrap_err();
    assert_eq!(
        e,
        FilterError::Malformed {
            pattern: "[a".into(),
            reason: "malformed pattern (missing ']')".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "malformed pattern (missing ']') in pattern '[a'"
    );
    let e = Filter::parse("%fx").unwrap_err();
    assert_eq!(e.to_string(), "missing '[' after '%f' in pattern '%fx'");
    let e = Filter::parse(&"a?".repeat(300)).unwrap_err();
    assert!(matches!(e, FilterError::TooComplex { .. }));
    assert!(
        e.to_string()
            .starts_with("pattern too complex in pattern 'a?a?")
    );
    // "%;" is split into "%" and "": an error, as documented.
    assert_eq!(
        Filter::parse("%;").unwrap_err().reason(),
        "malformed pattern (ends with '%')"
    );
}

#[test]
fn literal_ends_are_read_only_where_plain() {
    for (pat, end, whole) in [
        ("%.lua$", Some(".lua"), true),
        ("^/src/main%.c$", Some("/src/main.c"), false),
        ("ab?c$", Some("c"), false),
        ("%a+%.txt$", Some(".txt"), false),
        ("x%%$", Some("x%"), true),
        ("%.lua", None, false),
        ("%$", None, false),
        ("%.lu.$", None, false),
        ("[lL]ua$", Some("ua"), false),
        ("%bxy$", None, false),
        ("%d$", None, false),
        ("a*$", None, false),
        ("/src/%.x$", Some("/src/.x"), true),
    ] {
        let found = super::literal_end(pat.as_bytes());
        assert_eq!(
            found.as_ref().map(|(end, _)| end.as_slice()),
            end.map(str::as_bytes),
            "{pat}"
        );
        assert_eq!(found.is_some_and(|(_, w)| w), whole, "{pat}");
    }
}

#[test]
fn a_name_is_passed_by_only_when_no_pattern_could_match_it() {
    let filter = Filter::parse("%.lua$;^/src/main%.c$").expect("filter");
    assert!(filter.cannot_match_name(b"notes.txt"));
    assert!(!filter.cannot_match_name(b"app.lua"));
    assert!(!filter.cannot_match_name(b"main.c"));
    assert!(filter.cannot_match_name(b"xmain.c"));
    // One pattern without a literal end: every name may match.
    let filter = Filter::parse("%.lua$;/src/").expect("filter");
    assert!(!filter.cannot_match_name(b"notes.txt"));
}

proptest::proptest! {
    #[test]
    fn a_literal_end_pattern_matches_as_the_matcher_does(dir in "(/[a-z.%]{0,6}){0,3}", name in "[a-z.%]{0,8}", pat in r"(%\.|%%|[a-z/])*(%\.[a-z]{1,3})?\$") {
        let filter = Filter::parse(&pat).expect("filter");
        let path = format!("{dir}/{name}");
        let by_matcher = filter.patterns().next().map(|p| p.find(path.as_bytes(), 0).map(|m| m.is_some()));
        if let Some(by_matcher) = by_matcher {
            proptest::prop_assert_eq!(filter.matches(path.as_bytes()), by_matcher, "{} {}", pat, path);
        }
    }

    #[test]
    fn a_passed_by_name_never_matches(dir in "(/[a-z.]{0,6}){0,3}", name in "[a-z.%]{1,8}", pat in r"(%\.)?[a-z]{0,3}(%\.[a-z]{1,3})?\$") {
        proptest::prop_assume!(name != "." && name != "..");
        let filter = Filter::parse(&pat).expect("filter");
        let path = format!("{dir}/{name}");
        if filter.cannot_match_name(name.as_bytes()) {
            proptest::prop_assert!(!filter.matches(path.as_bytes()).unwrap_or(true), "{} {}", pat, path);
        }
    }
}
