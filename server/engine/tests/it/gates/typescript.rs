//! vitest 3 from `tests/fixtures/typescript/node_modules`, linked into the
//! temporary project: the worktrees under it resolve `vitest` from there.

use tdd_core::config::Language;

use super::harness::*;
use super::scenarios::scenario_tests;

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
    expect: Expect {
        red_syntax_codes: &["red.no_new_tests", "red.wrong_failure"],
        red_syntax_says: "multiply.test.ts",
        earlier_tests: &["add > returns the sum", "add > handles negatives"],
        earlier_broken: "green.regression",
        stub_says: &["not implemented"],
        missing: "multiply",
    },
};

scenario_tests!(TS);
