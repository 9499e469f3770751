//! Bad input (issue 8.4): property tests for every option parser and for
//! filter patterns that backtrack catastrophically.
//!
//! - `parse_delay`, `parse_switch`, `parse_filter`: arbitrary strings (and
//!   ones close to valid) never panic; what is accepted is exactly what the
//!   README documents and round-trips; every error names the variable and
//!   the value on one line.
//! - `load`: an arbitrary environment (any subset of forkmon's variables,
//!   values valid, invalid, empty or not UTF-8) gives one error per bad
//!   variable and a config only when there is none.
//! - The default filters built from a start directory of arbitrary bytes
//!   always compile, to one pattern that keeps files below that directory.
//! - Catastrophic patterns (`a-a-a-…b`, `(.-)(.-)…x`, back-references,
//!   `%b()`) on long subjects come back within the step budget, with
//!   `pattern too complex` on one line, and a real program whose filter is
//!   such a pattern runs to its end with one clear `[forkmon]` line.
//!
//! 256 cases per property by default (a few seconds in all). To run longer:
//! `FORKMON_PROPTEST_CASES=100000 cargo test --release --test bad_input`.

use forkmon_test_support as common;

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::time::{Duration, Instant};

use forkmon::config::{
    self, CLEAR, ConfigError, FILTER, IGNORE_DELAY, MAX_DELAY_MS, MIN_WORK, NO_COLOR, NO_COLORS,
    QUIET, RESTART_DELAY,
};
use forkmon::filter::{Filter, FilterError, Pattern, STEP_BUDGET};
use proptest::prelude::*;

fn cases(default: u32) -> u32 {
    ["FORKMON_PROPTEST_CASES", "PROPTEST_CASES"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse().ok())
        .unwrap_or(default)
}

fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A message fit for one `[forkmon]` line: no line break, no other control
/// character (an escape sequence in a value must not reach the terminal).
fn assert_one_line(message: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        !message.chars().any(char::is_control),
        "not one plain line: {message:?}"
    );
    prop_assert!(!message.is_empty());
    Ok(())
}

/// The value as an error message shows it: control characters escaped.
fn shown(value: &str) -> String {
    forkmon::log::one_line(value).into_owned()
}

/// Strings near the accepted ones: digits, signs, spaces, words, control
/// characters, and anything.
fn option_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::collection::vec(
            proptest::sample::select(
                "0123456789-+ .xXeE_\n\t\r\u{1b}onOFFyesnotruefalse".chars().collect::<Vec<_>>()
            ),
            0..12,
        )
        .prop_map(|c| c.into_iter().collect()),
        1 => (0u64..200_000).prop_map(|n| n.to_string()),
        1 => (0u64..200_000, 0usize..4).prop_map(|(n, zeros)| format!("{}{n}", "0".repeat(zeros))),
        1 => any::<String>(),
        1 => proptest::sample::select(
            ["1", "0", "true", "FALSE", "Yes", "no", "ON", "off", "", "-0", "60000", "60001"]
                .map(String::from)
                .to_vec()
        ),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    /// A delay is accepted iff it is a whole number of milliseconds from 0
    /// to MAX_DELAY_MS, written in ASCII digits; it round-trips.
    #[test]
    fn delays_are_whole_milliseconds_or_one_line_errors(value in option_text()) {
        let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
        let expected = digits
            .then(|| value.parse::<u64>().ok())
            .flatten()
            .filter(|&ms| ms <= MAX_DELAY_MS);
        match config::parse_delay(RESTART_DELAY, &value) {
            Ok(delay) => {
                prop_assert_eq!(Some(delay), expected.map(Duration::from_millis), "{:?}", value);
                let again = config::parse_delay(RESTART_DELAY, &delay.as_millis().to_string());
                prop_assert_eq!(again, Ok(delay));
            }
            Err(error) => {
                prop_assert!(expected.is_none(), "{:?} refused: {}", value, error);
                let message = error.to_string();
                assert_one_line(&message)?;
                let named = format!("{RESTART_DELAY}='{}'", shown(&value));
                prop_assert!(message.starts_with(&named), "{:?} vs {:?}", message, named);
                let right_kind = match &error {
                    ConfigError::Negative { .. } => value.starts_with('-'),
                    ConfigError::TooLong { .. } => digits,
                    ConfigError::NotANumber { .. } => !digits,
                    _ => false,
                };
                prop_assert!(right_kind, "{:?}: {:?}", value, error);
            }
        }
    }

    /// Every number of milliseconds up to the limit parses to itself, with
    /// or without leading zeros; above it is "too long"; below 0 "negative".
    #[test]
    fn every_delay_in_range_round_trips(ms in 0u64..=MAX_DELAY_MS, zeros in 0usize..3, over in 1u64..u64::MAX / 2) {
        let padded = format!("{}{ms}", "0".repeat(zeros));
        prop_assert_eq!(config::parse_delay(MIN_WORK, &padded), Ok(Duration::from_millis(ms)));
        let too_long = (MAX_DELAY_MS + over).to_string();
        prop_assert!(matches!(
            config::parse_delay(MIN_WORK, &too_long),
            Err(ConfigError::TooLong { .. })
        ), "{too_long}");
        prop_assert!(matches!(
            config::parse_delay(MIN_WORK, &format!("-{}", ms + 1)),
            Err(ConfigError::Negative { .. })
        ), "-{}", ms + 1);
    }

    /// A switch is one of the documented words, in any case.
    #[test]
    fn switches_are_the_documented_words_or_one_line_errors(value in option_text()) {
        let lower = value.to_ascii_lowercase();
        let expected = match lower.as_str() {
            "1" | "true" | "yes" | "on" => Some(true),
            "0" | "false" | "no" | "off" => Some(false),
            _ => None,
        };
        match config::parse_switch(QUIET, &value) {
            Ok(on) => prop_assert_eq!(Some(on), expected),
            Err(error) => {
                prop_assert!(expected.is_none());
                let message = error.to_string();
                assert_one_line(&message)?;
                let named = format!("{QUIET}='{}' is not a switch", shown(&value));
                prop_assert!(message.starts_with(&named), "{:?}", message);
            }
        }
    }

    /// A filter spec compiles to one pattern per non-empty ';' item, or is
    /// refused with a line that names the variable.
    #[test]
    fn filters_compile_per_item_or_give_one_line_errors(spec in filter_spec()) {
        match config::parse_filter(FILTER, &spec) {
            Ok(filter) => {
                let items: Vec<&str> = spec.split(';').filter(|i| !i.is_empty()).collect();
                prop_assert!(!items.is_empty());
                let sources: Vec<&[u8]> = filter.patterns().map(Pattern::source).collect();
                let expected: Vec<&[u8]> = items.iter().map(|i| i.as_bytes()).collect();
                prop_assert_eq!(sources, expected);
            }
            Err(error) => {
                let message = error.to_string();
                assert_one_line(&message)?;
                prop_assert!(message.starts_with(FILTER), "{:?}", message);
                if let ConfigError::Filter { source, .. } = &error {
                    // The offending item is shown (escaped).
                    prop_assert!(
                        message.contains(&format!("'{}'", shown(source.pattern()))),
                        "{:?}", message
                    );
                }
            }
        }
    }

    /// `load` on an arbitrary environment: exactly one error per variable
    /// set to a bad value (each naming it), a config only without errors,
    /// and the config holds the values given.
    #[test]
    fn load_reports_each_bad_variable_once(env in environment(), default in proptest::option::of(filter_spec())) {
        let lookup = |var: &str| env.get(var).cloned();
        let set = |var: &str| env.get(var).filter(|v| !v.is_empty());
        let text = |var: &str| set(var).map(|v| v.clone().into_string());
        let mut bad: Vec<&str> = Vec::new();
        for var in [RESTART_DELAY, IGNORE_DELAY, MIN_WORK] {
            match text(var) {
                Some(Ok(value)) if config::parse_delay(RESTART_DELAY, &value).is_ok() => {}
                None => {}
                Some(_) => bad.push(var),
            }
        }
        for var in [QUIET, NO_COLORS, CLEAR] {
            match text(var) {
                Some(Ok(value)) if config::parse_switch(QUIET, &value).is_ok() => {}
                None => {}
                Some(_) => bad.push(var),
            }
        }
        let filter_ok = match text(FILTER) {
            Some(Ok(value)) => config::parse_filter(FILTER, &value).is_ok(),
            Some(Err(_)) => false,
            None => default.as_deref().is_some_and(|d| config::parse_filter(FILTER, d).is_ok()),
        };
        if !filter_ok {
            bad.push(FILTER);
        }
        match config::load(&lookup, true, default.as_deref()) {
            Ok(loaded) => {
                prop_assert!(bad.is_empty(), "accepted although {:?} are bad", bad);
                let delay = |var, default| match text(var) {
                    Some(Ok(v)) => config::parse_delay(var, &v).ok(),
                    _ => Some(default),
                };
                prop_assert_eq!(Some(loaded.restart_delay), delay(RESTART_DELAY, config::DEFAULT_RESTART_DELAY));
                prop_assert_eq!(Some(loaded.ignore_delay), delay(IGNORE_DELAY, config::DEFAULT_IGNORE_DELAY));
                prop_assert_eq!(Some(loaded.min_work), delay(MIN_WORK, config::DEFAULT_MIN_WORK));
                let spec = match text(FILTER) {
                    Some(Ok(v)) => v,
                    _ => default.clone().unwrap_or_default(),
                };
                prop_assert_eq!(&loaded.filter_spec, &spec);
                let switch = |var| matches!(text(var), Some(Ok(v)) if config::parse_switch(var, &v) == Ok(true));
                prop_assert_eq!(loaded.output.quiet, switch(QUIET));
                prop_assert_eq!(loaded.clear, switch(CLEAR));
                let no_color = set(NO_COLOR).is_some();
                prop_assert_eq!(loaded.output.colours, !switch(NO_COLORS) && !no_color);
            }
            Err((_, errors)) => {
                let mut named: Vec<&str> = Vec::new();
                for error in &errors {
                    let message = error.to_string();
                    assert_one_line(&message)?;
                    let var = [FILTER, QUIET, NO_COLORS, RESTART_DELAY, IGNORE_DELAY, MIN_WORK, CLEAR]
                        .into_iter()
                        .find(|var| {
                            message.strip_prefix(var).is_some_and(|rest| rest.starts_with(['=', ' ', ':']))
                        });
                    prop_assert!(var.is_some(), "names no variable: {:?}", message);
                    named.extend(var);
                }
                named.sort_unstable();
                bad.sort_unstable();
                prop_assert_eq!(named, bad, "{:?}", errors);
            }
        }
    }

    /// The default filters of the Lua module and the command, built from a
    /// start directory of any bytes: one pattern, which keeps the files
    /// below that directory and no file of a sibling.
    #[test]
    fn default_filters_compile_for_any_start_directory(
        parts in proptest::collection::vec(proptest::collection::vec(directory_byte(), 1..12), 0..5)
    ) {
        let mut dir = Vec::new();
        for part in &parts {
            dir.push(b'/');
            dir.extend_from_slice(part);
        }
        if dir.is_empty() {
            dir.push(b'/');
        }
        let inside = |name: &[u8]| {
            let mut path = dir.clone();
            if !path.ends_with(b"/") {
                path.push(b'/');
            }
            path.extend_from_slice(name);
            path
        };
        let lua = config::default_lua_filter(&dir);
        let filter = Filter::parse(&lua).map_err(|e| TestCaseError::fail(format!("{lua:?}: {e}")))?;
        prop_assert_eq!(filter.patterns().count(), 1, "{:?}", lua);
        prop_assert_eq!(filter.matches(&inside(b"src/app.lua")), Ok(true), "{:?}", lua);
        prop_assert_eq!(filter.matches(&inside(b"data.json")), Ok(false), "{:?}", lua);
        let project = config::default_project_filter(&dir);
        let filter = Filter::parse(&project).map_err(|e| TestCaseError::fail(format!("{project:?}: {e}")))?;
        prop_assert_eq!(filter.patterns().count(), 1, "{:?}", project);
        prop_assert_eq!(filter.matches(&inside(b"main.c")), Ok(true), "{:?}", project);
        if dir.len() > 1 {
            // A sibling whose name extends the directory's is not below it.
            let mut sibling = dir.clone();
            sibling.extend_from_slice(b"x/main.c");
            prop_assert_eq!(filter.matches(&sibling), Ok(false), "{:?}", project);
        }
    }
}

fn directory_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => proptest::sample::select(b"az09 ._-%^$()[]*+?;~".to_vec()),
        1 => any::<u8>().prop_filter("no separator or NUL", |b| *b != b'/' && *b != 0),
    ]
}

fn filter_spec() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::collection::vec(
            proptest::sample::select("%[]^-().$*+?abf1;/\n\u{1b}".chars().collect::<Vec<_>>()),
            0..24,
        )
        .prop_map(|c| c.into_iter().collect()),
        1 => any::<String>(),
        1 => proptest::sample::select(
            ["%.lua$", "%.lua$;%.c$", ";;", "[a", "%", "(", "%b", "%f", "%1", "^/src/"]
                .map(String::from)
                .to_vec()
        ),
    ]
}

/// A value for an environment variable: valid, invalid, empty or not UTF-8.
fn env_value() -> impl Strategy<Value = OsString> {
    prop_oneof![
        4 => option_text().prop_map(OsString::from),
        2 => filter_spec().prop_map(OsString::from),
        1 => proptest::collection::vec(any::<u8>(), 0..16)
            .prop_filter("no NUL in the environment", |b| !b.contains(&0))
            .prop_map(OsString::from_vec),
    ]
}

fn environment() -> impl Strategy<Value = HashMap<&'static str, OsString>> {
    let vars = [
        FILTER,
        QUIET,
        NO_COLORS,
        NO_COLOR,
        RESTART_DELAY,
        IGNORE_DELAY,
        MIN_WORK,
        CLEAR,
    ];
    proptest::collection::vec(proptest::option::weighted(0.5, env_value()), vars.len()).prop_map(
        move |values| {
            vars.iter()
                .zip(values)
                .filter_map(|(var, value)| Some((*var, value?)))
                .collect()
        },
    )
}

// --- catastrophic patterns -------------------------------------------------

/// Generous: the budget is a few ms of work in a release build and tens of
/// ms in a debug build; a hang would be seconds to hours.
const MAX_CALL: Duration = Duration::from_secs(2);

/// Pieces that each may match any number of 'a's: k of them in a row make
/// Lua's backtracking matcher try O(n^k) splits of a run of n 'a's.
fn greedy_piece() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec![
        "a-", "a*", ".-", ".*", "(.-)", "(a*)", "%a*", "[a]-", "[^/]*", "a?",
    ])
}

proptest! {
    #![proptest_config(config(64))]

    /// A run of many-matching pieces followed by a byte that is not in the
    /// subject either finds nothing or gives up with "pattern too complex"
    /// (one line, naming the pattern), within the budget's time.
    #[test]
    fn backtracking_patterns_are_cut_off(
        pieces in proptest::collection::vec(greedy_piece(), 1..12),
        tail in proptest::sample::select(vec!["b", "b$", "%d", "()b", "%1b"]),
        run in 1usize..5000,
        slashes in any::<bool>(),
    ) {
        let mut pattern = pieces.concat();
        pattern.push_str(tail);
        let compiled = match Pattern::compile(pattern.as_bytes()) {
            Ok(p) => p,
            // %1 without a capture: refused when compiled, fine.
            Err(e) => {
                prop_assert!(pattern.contains("%1"), "{pattern}: {e}");
                return Ok(());
            }
        };
        // At least one 'a', which the filter's second pattern looks for.
        let subject = if slashes {
            format!("/{}", "a/".repeat(run.div_ceil(2)))
        } else {
            format!("/{}", "a".repeat(run))
        };
        let started = Instant::now();
        let result = compiled.find(subject.as_bytes(), 0);
        let took = started.elapsed();
        prop_assert!(took < MAX_CALL, "{pattern} on {run} bytes took {took:?}");
        match result {
            Ok(None) => {}
            Ok(Some(found)) => prop_assert!(false, "{pattern} matched {found:?} without a 'b' or a digit"),
            Err(e) => {
                prop_assert!(matches!(e, FilterError::TooComplex { .. }), "{pattern}: {e}");
                let message = e.to_string();
                prop_assert_eq!(&message, &format!("pattern too complex in pattern '{pattern}'"));
                assert_one_line(&message)?;
            }
        }
        // The same through a filter: another pattern that matches wins.
        let filter = Filter::parse(&format!("{pattern};^/a")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(filter.matches(subject.as_bytes()), Ok(true));
    }

    /// Long pathological searches are cut off by the budget rather than
    /// explored to the end: with a sixteenth or a quarter of the budget,
    /// `a-a-a-a-b` and longer on hundreds of 'a's always give up.
    #[test]
    fn long_pathological_searches_are_always_cut_off(k in 4usize..10, run in 500usize..4000) {
        let pattern = format!("{}b", "a-".repeat(k));
        let compiled = Pattern::compile(pattern.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let subject = "a".repeat(run);
        for budget in [STEP_BUDGET / 16, STEP_BUDGET / 4] {
            let result = compiled.find_with_budget(subject.as_bytes(), 0, budget);
            prop_assert!(matches!(result, Err(FilterError::TooComplex { .. })), "{pattern}: {result:?}");
        }
    }
}

#[test]
fn a_catastrophic_pattern_is_as_fast_as_its_budget() {
    // a-a-a-a-a-a-a-a-b on 4000 'a's: Lua would try ~4000^8 splits.
    let pattern = Pattern::compile(b"a-a-a-a-a-a-a-a-b").expect("valid");
    let subject = "a".repeat(4000);
    let started = Instant::now();
    let result = pattern.find(subject.as_bytes(), 0);
    let took = started.elapsed();
    assert!(
        matches!(result, Err(FilterError::TooComplex { .. })),
        "{result:?}"
    );
    assert!(took < MAX_CALL, "one full budget took {took:?}");
    eprintln!("one budget of {STEP_BUDGET} steps: {took:?}");
}

// --- a real program with such a filter --------------------------------------

#[test]
fn a_program_whose_filter_backtracks_runs_on_with_one_clear_line() {
    let scratch = common::Scratch::new("catastrophic");
    let program = scratch.compile_program("opener");
    // A directory name of 200 'a's: long enough to exhaust the budget.
    let deep = format!("{}/x.txt", "a".repeat(200));
    scratch.write(&deep, "1");
    scratch.write("short.txt", "1");
    let pattern = "a-a-a-a-a-a-a-a-b";
    let mut session = common::Launch::preloaded(&program, pattern)
        .arg(&deep)
        .arg("short.txt")
        .dir(&scratch.0)
        .start();
    let status = session.wait_exit();
    let output = session.output();
    assert!(status.success(), "{output}");
    assert!(output.contains("all read\n"), "{output}");
    let lines: Vec<&str> = output
        .lines()
        .filter(|l| l.starts_with("[forkmon]"))
        .collect();
    let expected = format!(
        "[forkmon] FORKMON_FILTER: pattern too complex in pattern '{pattern}' on '{}': \
         such paths are not watched (said once)",
        scratch.path(&deep).display()
    );
    assert_eq!(lines, [expected.as_str()], "{output}");
    session.assert_all_gone();
}
