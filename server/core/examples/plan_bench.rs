//! Decomposition benchmark: prints parse and decompose times for generated
//! PRDs of 100, 1,000 and 5,000 requirements. Numbers only, no asserts.
//!
//! `cargo run --release -p tdd-core --example plan_bench`
//!
//! Each requirement has 3 EARS criteria (one with an error code), depends on
//! the two before it, and every tenth shares its module with the one before,
//! so dependency, ownership and overlap work are all exercised.

use std::fmt::Write;
use std::time::Instant;

use tdd_core::analysis::{Options, analyze};
use tdd_core::config::Config;
use tdd_core::plan::{ProjectFiles, decompose};

fn generate(requirements: usize) -> String {
    let mut text = String::from(
        "---\nid: PRD-BENCH\ntitle: Benchmark\n---\n\n# Benchmark\n\n## Requirements\n\n",
    );
    for n in 1..=requirements {
        let module = if n % 10 == 0 { n - 1 } else { n };
        let _ = write!(
            text,
            "### REQ-{n} Feature number {n}\n\nModule: src/app/feature_{module}.py\nTests: tests/test_feature_{n}.py\n"
        );
        match n {
            1 => {}
            2 => text.push_str("Depends on: REQ-1\n"),
            _ => {
                let _ = writeln!(text, "Depends on: REQ-{}, REQ-{}", n - 1, n - 2);
            }
        }
        let _ = write!(
            text,
            "\nAcceptance criteria:\n- AC-{n}.1: WHEN a user submits form {n} THE SYSTEM SHALL store record {n}.\n- AC-{n}.2: IF record {n} exists THEN THE SYSTEM SHALL reject it with error `duplicate_{n}`.\n- AC-{n}.3: WHILE maintenance mode is on THE SYSTEM SHALL queue form {n}.\n\n"
        );
    }
    text
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let layout = Config::default().project.layout();
    let project = ProjectFiles::default();
    println!(
        "{:>12} {:>7} {:>6} {:>6} {:>14} {:>16}",
        "requirements", "lines", "tasks", "runs", "parse p50/p95", "decompose p50/p95"
    );
    for (requirements, runs) in [(100, 50), (1_000, 20), (5_000, 5)] {
        let text = generate(requirements);
        let (mut parse, mut plan) = (Vec::new(), Vec::new());
        let mut tasks = 0;
        for _ in 0..runs {
            let started = Instant::now();
            let analysis = analyze("bench.prd.md", &text, &Options::default());
            parse.push(started.elapsed().as_secs_f64() * 1e3);
            let started = Instant::now();
            let result = decompose(&analysis.prd, &layout, &project);
            plan.push(started.elapsed().as_secs_f64() * 1e3);
            assert!(result.errors.is_empty(), "{:?}", &result.errors[..1]);
            tasks = result.graph.tasks.len();
        }
        parse.sort_by(f64::total_cmp);
        plan.sort_by(f64::total_cmp);
        println!(
            "{requirements:>12} {:>7} {tasks:>6} {runs:>6} {:>6.1}/{:>5.1} ms {:>8.1}/{:>6.1} ms",
            text.lines().count(),
            percentile(&parse, 0.5),
            percentile(&parse, 0.95),
            percentile(&plan, 0.5),
            percentile(&plan, 0.95),
        );
    }
}
