//! `go test -json ./...` with Debian's Go (1.19). The new test sits in the
//! package of the earlier one: a Go test file claims its whole package (`go
//! test -json` names no file), so `add`'s tests count as the task's too.

use tdd_core::config::Language;
use tdd_gates::Stage;

use super::harness::*;
use super::scenarios::*;

const GO: Lang = Lang {
    fixture: "go",
    language: Language::Go,
    test_file: "calc/multiply_test.go",
    impl_file: "calc/calc.go",
    earlier_test: "calc/add_test.go",
    red_test: "package calc

import \"testing\"

func TestMultiplyReturnsTheProduct(t *testing.T) {
	if got := Multiply(3, 4); got != 12 {
		t.Errorf(\"Multiply(3, 4) = %d, want 12\", got)
	}
}
",
    red_syntax: "package calc

import \"testing\"

func TestMultiplyReturnsTheProduct(t *testing.T) {
	if got := Multiply(3, 4); got != 12 {
		t.Errorf(\"Multiply(3, 4) = %d, want 12\", got
	}
}
",
    weak_test: "package calc

import \"testing\"

func TestMultiplyByZero(t *testing.T) {
	if got := Multiply(0, 5); got != 0 {
		t.Errorf(\"Multiply(0, 5) = %d, want 0\", got)
	}
}
",
    test_weakened: "package calc

import \"testing\"

func TestMultiplyReturnsTheProduct(t *testing.T) {
	if got := Multiply(3, 4); got == 0 {
		t.Errorf(\"Multiply(3, 4) = %d, want 12\", got)
	}
}
",
    test_skipped: "package calc

import \"testing\"

func TestMultiplyReturnsTheProduct(t *testing.T) {
	t.Skip(\"later\")
	if got := Multiply(3, 4); got != 12 {
		t.Errorf(\"Multiply(3, 4) = %d, want 12\", got)
	}
}
",
    impl_real: "// Package calc holds arithmetic helpers.
package calc

// Add returns a + b.
func Add(a, b int) int {
	return a + b
}

// Multiply returns a * b.
func Multiply(a, b int) int {
	return a * b
}
",
    impl_refactored: "// Package calc holds arithmetic helpers.
package calc

// Add returns a + b.
func Add(a, b int) int {
	return a + b
}

// Multiply returns the product of a and b.
func Multiply(a, b int) (product int) {
	product = a * b
	return
}
",
    impl_wrong: "// Package calc holds arithmetic helpers.
package calc

// Add returns a + b.
func Add(a, b int) int {
	return a + b
}

// Multiply returns a * b.
func Multiply(a, b int) int {
	return a + b
}
",
    impl_stub: "// Package calc holds arithmetic helpers.
package calc

// Add returns a + b.
func Add(a, b int) int {
	return a + b
}

// Multiply returns a * b.
func Multiply(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	panic(\"TODO: multiply\")
}
",
    impl_breaks_add: "// Package calc holds arithmetic helpers.
package calc

// Add returns a + b.
func Add(a, b int) int {
	return a - b
}

// Multiply returns a * b.
func Multiply(a, b int) int {
	return a * b
}
",
};

/// The earlier task's tests.
const ADD_TESTS: &[&str] = &["TestAddReturnsTheSum", "TestAddHandlesNegatives"];

#[test]
fn red_with_a_syntax_error_is_rejected() {
    let out = red_with_a_syntax_error(&GO);
    let why = reason(attempt(&out, Stage::Red), "red.wrong_failure");
    assert!(why.contains("syntax error"), "{why}");
}

#[test]
fn green_editing_a_test_is_reverted_and_rejected() {
    green_edits_a_test(&GO);
}

#[test]
fn green_deleting_a_test_is_rejected() {
    let out = green_deletes_a_test(&GO);
    // `add`'s tests are in the task's package (see the module docs).
    assert_about(attempt(&out, Stage::Green), "green.task_failing", ADD_TESTS);
}

#[test]
fn green_adding_a_skip_is_rejected() {
    green_adds_a_skip(&GO);
}

#[test]
fn green_breaking_an_earlier_test_is_rejected() {
    let out = green_breaks_an_earlier_test(&GO);
    let green = attempt(&out, Stage::Green);
    assert_eq!(codes(green), ["green.task_failing"], "{}", story(&out));
    assert_about(green, "green.task_failing", ADD_TESTS);
    let why = reason(green, "green.task_failing");
    assert!(why.contains("(assertion: "), "{why}");
}

#[test]
fn a_stub_that_passes_the_tests_fails_verify() {
    let out = a_stub_fails_verify(&GO);
    let why = reason(attempt(&out, Stage::Verify), "verify.placeholder");
    assert!(why.contains("panic(\"TODO: multiply\")"), "{why}");
}

#[test]
fn a_failed_refactor_is_rolled_back_and_green_merges() {
    a_failed_refactor_is_rolled_back(&GO);
}

#[test]
fn a_correct_run_is_accepted() {
    let out = a_correct_run_is_merged(&GO);
    let red = attempt(&out, Stage::Red);
    assert!(
        red.evidence.contains("missing symbol: Multiply"),
        "{}",
        red.evidence
    );
}
