//! `cargo test`, building into a target dir outside the project.

use tdd_core::config::Language;

use super::harness::*;
use super::scenarios::scenario_tests;

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
    expect: Expect {
        red_syntax_codes: &["red.wrong_failure"],
        red_syntax_says: "expected expression",
        earlier_tests: &["::add_returns_the_sum", "::add_handles_negatives"],
        earlier_broken: "green.regression",
        stub_says: &["todo!"],
        missing: "multiply",
    },
};

scenario_tests!(RS);
