//! Micro-benchmark of `Filter::matches` (no external crates).
//!
//! `cargo run --release --example filter_bench`

use forkmon::filter::Filter;
use std::hint::black_box;
use std::time::Instant;

const ITERS: u32 = 2_000_000;

fn bench(filter: &Filter, path: &[u8], expect: bool) {
    assert_eq!(filter.matches(path), Ok(expect));
    // warm-up
    for _ in 0..ITERS / 10 {
        let _ = black_box(filter.matches(black_box(path)));
    }
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..ITERS {
            let _ = black_box(filter.matches(black_box(path)));
        }
        best = best.min(t.elapsed().as_nanos() as f64 / f64::from(ITERS));
    }
    println!(
        "{:>6.1} ns/match  ({}) {}",
        best,
        if expect { "match   " } else { "no match" },
        String::from_utf8_lossy(path)
    );
}

fn main() {
    let spec = "%.lua$;%.nelua$";
    let filter = match Filter::parse(spec) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("[forkmon] FORKMON_FILTER: {e}");
            std::process::exit(1);
        }
    };
    println!("filter {spec:?}, best of 5 x {ITERS} iterations");
    bench(
        &filter,
        b"/home/user/projects/game/src/engine/physics.lua",
        true,
    );
    bench(
        &filter,
        b"/home/user/projects/game/src/engine/physics.nelua",
        true,
    );
    bench(&filter, b"/usr/lib/x86_64-linux-gnu/libc.so.6", false);
}
