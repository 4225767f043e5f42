//! vitest 3 from `tests/fixtures/typescript/node_modules`, linked into the
//! temporary project: the worktrees under it resolve `vitest` from there.

use tdd_core::config::Language;
use tdd_gates::Stage;

use super::harness::*;
use super::scenarios::*;

const TS: Lang = Lang {
    fixture: "typescript",
    language: Language::Typescript,
    test_file: "tests/multiply.test.ts",
    impl_file: "src/calc.ts",
    earlier_test: "tests/add.test.ts",
    red_test: "import { expect, it } from \"vitest\";
import { multiply } from \"../src/calc\";

it(\"returns the product\", () => {
  expect(multiply(3, 4)).toBe(12);
});
",
    red_syntax: "import { expect, it } from \"vitest\";
import { multiply } from \"../src/calc\";

it(\"returns the product\", () => {
  expect(multiply(3, 4)).toBe(12;
});
",
    weak_test: "import { expect, it } from \"vitest\";
import { multiply } from \"../src/calc\";

it(\"multiplies by zero\", () => {
  expect(multiply(0, 5)).toBe(0);
});
",
    test_weakened: "import { expect, it } from \"vitest\";
import { multiply } from \"../src/calc\";

it(\"returns the product\", () => {
  expect(multiply(3, 4)).toBeGreaterThan(0);
});
",
    test_skipped: "import { expect, it } from \"vitest\";
import { multiply } from \"../src/calc\";

it.skip(\"returns the product\", () => {
  expect(multiply(3, 4)).toBe(12);
});
",
    impl_real: "/** Arithmetic helpers. */

export function add(a: number, b: number): number {
  return a + b;
}

export function multiply(a: number, b: number): number {
  return a * b;
}
",
    impl_refactored: "/** Arithmetic helpers. */

export function add(a: number, b: number): number {
  return a + b;
}

/** The product of `a` and `b`. */
export const multiply = (a: number, b: number): number => a * b;
",
    impl_wrong: "/** Arithmetic helpers. */

export function add(a: number, b: number): number {
  return a + b;
}

export function multiply(a: number, b: number): number {
  return a + b;
}
",
    impl_stub: "/** Arithmetic helpers. */

export function add(a: number, b: number): number {
  return a + b;
}

export function multiply(a: number, b: number): number {
  if (a === 0 || b === 0) {
    return 0;
  }
  throw new Error(\"not implemented\");
}
",
    impl_breaks_add: "/** Arithmetic helpers. */

export function add(a: number, b: number): number {
  return a - b;
}

export function multiply(a: number, b: number): number {
  return a * b;
}
",
};

/// The earlier task's tests.
const ADD_TESTS: &[&str] = &["add > returns the sum", "add > handles negatives"];

#[test]
fn red_with_a_syntax_error_is_rejected() {
    let out = red_with_a_syntax_error(&TS);
    let why = reason(attempt(&out, Stage::Red), "red.wrong_failure");
    assert!(why.contains("multiply.test.ts"), "{why}");
}

#[test]
fn green_editing_a_test_is_reverted_and_rejected() {
    green_edits_a_test(&TS);
}

#[test]
fn green_deleting_a_test_is_rejected() {
    let out = green_deletes_a_test(&TS);
    assert_about(attempt(&out, Stage::Green), "green.regression", ADD_TESTS);
}

#[test]
fn green_adding_a_skip_is_rejected() {
    green_adds_a_skip(&TS);
}

#[test]
fn green_breaking_an_earlier_test_is_rejected() {
    let out = green_breaks_an_earlier_test(&TS);
    let green = attempt(&out, Stage::Green);
    assert_eq!(codes(green), ["green.regression"], "{}", story(&out));
    assert_about(green, "green.regression", ADD_TESTS);
    let why = reason(green, "green.regression");
    assert!(why.contains("(assertion: "), "{why}");
}

#[test]
fn a_stub_that_passes_the_tests_fails_verify() {
    let out = a_stub_fails_verify(&TS);
    let why = reason(attempt(&out, Stage::Verify), "verify.placeholder");
    assert!(why.contains("not implemented"), "{why}");
}

#[test]
fn a_failed_refactor_is_rolled_back_and_green_merges() {
    a_failed_refactor_is_rolled_back(&TS);
}

#[test]
fn a_correct_run_is_accepted() {
    let out = a_correct_run_is_merged(&TS);
    let red = attempt(&out, Stage::Red);
    assert!(
        red.evidence.contains("missing symbol: multiply"),
        "{}",
        red.evidence
    );
}
