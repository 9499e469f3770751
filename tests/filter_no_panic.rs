//! Property test: no input panics, and every call returns promptly.
//!
//! Arbitrary bytes for the pattern (biased towards Lua's special
//! characters), arbitrary strings for the filter spec and arbitrary bytes
//! for the subject (up to a few KiB, so the step budget gets exercised).
//! Each call must return (errors are fine) within a generous wall-clock
//! bound; the matcher itself is bounded by `STEP_BUDGET` steps.
//!
//! Runs 2000 cases per property by default (a few seconds). To run longer:
//! `FORKMON_PROPTEST_CASES=200000 cargo test --release --test filter_no_panic`
//! (`PROPTEST_CASES` is honoured too).

use forkmon::filter::{Filter, FilterError, Pattern, STEP_BUDGET};
use proptest::prelude::*;
use std::time::{Duration, Instant};

fn cases() -> u32 {
    ["FORKMON_PROPTEST_CASES", "PROPTEST_CASES"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse().ok())
        .unwrap_or(2000)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Generous: the budget is ~a few ms of work even in a debug build.
const MAX_CALL: Duration = Duration::from_secs(2);

fn pattern_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => proptest::sample::select(b"%[]^-().$*+?abf1209zZAWdsxp;/".to_vec()),
        1 => any::<u8>(),
    ]
}

fn pattern() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => proptest::collection::vec(pattern_byte(), 0..24),
        1 => proptest::collection::vec(pattern_byte(), 0..400),
        1 => proptest::collection::vec(any::<u8>(), 0..64),
    ]
}

fn subject() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => proptest::collection::vec(
            proptest::sample::select(b"aab/.()[]%x1 \0\xff".to_vec()),
            0..64
        ),
        1 => proptest::collection::vec(proptest::sample::select(b"a(/".to_vec()), 0..4096),
        1 => proptest::collection::vec(any::<u8>(), 0..512),
    ]
}

fn spec() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(pattern_byte(), 0..48)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        proptest::collection::vec(any::<char>(), 0..32).prop_map(|c| c.into_iter().collect()),
    ]
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let r = f();
    let took = t.elapsed();
    assert!(took < MAX_CALL, "{what} took {took:?}");
    r
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn pattern_never_panics(p in pattern(), s in subject(), init in 0usize..80) {
        let lazy = Pattern::compile_lazy(&p);
        let init = init.min(s.len() + 1);
        let lazy_res = timed("lazy find", || lazy.find(&s, init));
        if let Ok(Some((a, b))) = lazy_res {
            prop_assert!(init <= a && a <= b && b <= s.len());
        }
        match Pattern::compile(&p) {
            Ok(eager) => {
                let r = timed("eager find", || eager.find(&s, init));
                // An accepted pattern only fails on budget exhaustion, and
                // agrees with the lazy path.
                match &r {
                    Err(FilterError::TooComplex { .. }) => {}
                    Err(e) => prop_assert!(false, "accepted pattern failed: {e}"),
                    Ok(_) => prop_assert_eq!(&r, &lazy_res),
                }
                prop_assert_eq!(eager.source(), &p[..]);
            }
            Err(e) => {
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    #[test]
    fn filter_never_panics(spec in spec(), s in subject()) {
        if let Ok(f) = Filter::parse(&spec) {
            let r = timed("matches", || f.matches(&s));
            if let Err(e) = r {
                prop_assert!(matches!(e, FilterError::TooComplex { .. }), "{e}");
            }
            prop_assert_eq!(f.is_empty(), f.patterns().next().is_none());
        }
    }

    #[test]
    fn budget_bounds_work(p in pattern(), s in subject(), budget in 0u64..5000) {
        // With a small budget the answer is either the real one or TooComplex.
        let lazy = Pattern::compile_lazy(&p);
        let small = lazy.find_with_budget(&s, 0, budget);
        if !matches!(small, Err(FilterError::TooComplex { .. })) {
            prop_assert_eq!(small, lazy.find_with_budget(&s, 0, STEP_BUDGET));
        }
    }
}
