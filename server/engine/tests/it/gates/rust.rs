//! `cargo test`, building into a target dir outside the project.

use tdd_core::config::Language;
use tdd_gates::Stage;

use super::harness::*;
use super::scenarios::*;

const RED_TEST: &str = "use calc::multiply;

#[test]
fn multiply_returns_the_product() {
    assert_eq!(multiply(3, 4), 12);
}
";

const RS: Lang = Lang {
    fixture: "rust",
    language: Language::Rust,
    test_file: "tests/multiply.rs",
    impl_file: "src/lib.rs",
    earlier_test: "tests/add.rs",
    red_test: RED_TEST,
    red_syntax: "use calc::multiply;

#[test]
fn multiply_returns_the_product() {
    let product = ;
    assert_eq!(multiply(3, 4), product);
}
",
    weak_test: "use calc::multiply;

#[test]
fn multiply_by_zero() {
    assert_eq!(multiply(0, 5), 0);
}
",
    test_weakened: "use calc::multiply;

#[test]
fn multiply_returns_the_product() {
    assert!(multiply(3, 4) > 0);
}
",
    test_skipped: "use calc::multiply;

#[test]
#[ignore = \"later\"]
fn multiply_returns_the_product() {
    assert_eq!(multiply(3, 4), 12);
}
",
    impl_real: "//! Arithmetic helpers.

pub fn add(a: i64, b: i64) -> i64 {
    a + b
}

pub fn multiply(a: i64, b: i64) -> i64 {
    a * b
}
",
    impl_refactored: "//! Arithmetic helpers.

pub fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// The product of `a` and `b`.
pub fn multiply(a: i64, b: i64) -> i64 {
    [a, b].iter().product()
}
",
    impl_wrong: "//! Arithmetic helpers.

pub fn add(a: i64, b: i64) -> i64 {
    a + b
}

pub fn multiply(a: i64, b: i64) -> i64 {
    a + b
}
",
    impl_stub: "//! Arithmetic helpers.

pub fn add(a: i64, b: i64) -> i64 {
    a + b
}

pub fn multiply(a: i64, b: i64) -> i64 {
    if a == 0 || b == 0 {
        return 0;
    }
    todo!()
}
",
    impl_breaks_add: "//! Arithmetic helpers.

pub fn add(a: i64, b: i64) -> i64 {
    a - b
}

pub fn multiply(a: i64, b: i64) -> i64 {
    a * b
}
",
};

/// The earlier task's tests.
const ADD_TESTS: &[&str] = &["::add_returns_the_sum", "::add_handles_negatives"];

#[test]
fn red_with_a_syntax_error_is_rejected() {
    let out = red_with_a_syntax_error(&RS);
    let why = reason(attempt(&out, Stage::Red), "red.wrong_failure");
    assert!(why.contains("expected expression"), "{why}");
}

#[test]
fn green_editing_a_test_is_reverted_and_rejected() {
    green_edits_a_test(&RS);
}

#[test]
fn green_deleting_a_test_is_rejected() {
    let out = green_deletes_a_test(&RS);
    assert_about(attempt(&out, Stage::Green), "green.regression", ADD_TESTS);
}

#[test]
fn green_adding_a_skip_is_rejected() {
    green_adds_a_skip(&RS);
}

#[test]
fn green_breaking_an_earlier_test_is_rejected() {
    let out = green_breaks_an_earlier_test(&RS);
    let green = attempt(&out, Stage::Green);
    assert_eq!(codes(green), ["green.regression"], "{}", story(&out));
    // Seen although RED's test did not build: testrun ran the targets that do.
    assert_about(green, "green.regression", ADD_TESTS);
    let why = reason(green, "green.regression");
    assert!(why.contains("(assertion: "), "{why}");
}

#[test]
fn a_stub_that_passes_the_tests_fails_verify() {
    let out = a_stub_fails_verify(&RS);
    let why = reason(attempt(&out, Stage::Verify), "verify.placeholder");
    assert!(why.contains("todo!"), "{why}");
}

#[test]
fn a_failed_refactor_is_rolled_back_and_green_merges() {
    a_failed_refactor_is_rolled_back(&RS);
}

#[test]
fn a_correct_run_is_accepted() {
    let out = a_correct_run_is_merged(&RS);
    let red = attempt(&out, Stage::Red);
    assert!(
        red.evidence.contains("missing symbol: multiply"),
        "{}",
        red.evidence
    );
}
