//! `go test -json ./...` with Debian's Go (1.19). The new test sits in the
//! package of the earlier one: a Go test file claims its whole package (`go
//! test -json` names no file), so `add`'s tests count as the task's too.

use tdd_core::config::Language;

use super::harness::*;
use super::scenarios::scenario_tests;

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
    expect: Expect {
        red_syntax_codes: &["red.no_new_tests", "red.wrong_failure"],
        red_syntax_says: "syntax error",
        earlier_tests: &["TestAddReturnsTheSum", "TestAddHandlesNegatives"],
        earlier_broken: "green.task_failing",
        stub_says: &["panic(\"TODO: multiply\")"],
        missing: "Multiply",
    },
};

scenario_tests!(GO);
