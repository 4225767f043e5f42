//! pytest, from the repository's `.venv`.

use tdd_core::config::Language;
use tdd_gates::{Outcome, Stage};

use super::harness::*;
use super::scenarios::scenario_tests;
use crate::support::attempt_order;

const PY: Lang = Lang {
    fixture: "python",
    language: Language::Python,
    test_file: "tests/test_multiply.py",
    impl_file: "src/calc.py",
    earlier_test: "tests/test_add.py",
    red_test: "from calc import multiply\n\n\ndef test_multiply_returns_the_product():\n    assert multiply(3, 4) == 12\n",
    red_syntax: "from calc import multiply\n\n\ndef test_multiply_returns_the_product(:\n    assert multiply(3, 4) == 12\n",
    weak_test: "from calc import multiply\n\n\ndef test_multiply_by_zero():\n    assert multiply(0, 5) == 0\n",
    test_weakened: "from calc import multiply\n\n\ndef test_multiply_returns_the_product():\n    assert multiply(3, 4) is not None\n",
    test_skipped: "import pytest\n\nfrom calc import multiply\n\n\n@pytest.mark.skip(reason=\"later\")\ndef test_multiply_returns_the_product():\n    assert multiply(3, 4) == 12\n",
    impl_real: "\"\"\"Arithmetic helpers.\"\"\"\n\n\ndef add(a, b):\n    return a + b\n\n\ndef multiply(a, b):\n    return a * b\n",
    impl_refactored: "\"\"\"Arithmetic helpers.\"\"\"\n\nimport operator\n\n\ndef add(a, b):\n    return a + b\n\n\nmultiply = operator.mul\n",
    impl_wrong: "\"\"\"Arithmetic helpers.\"\"\"\n\n\ndef add(a, b):\n    return a + b\n\n\ndef multiply(a, b):\n    return a + b\n",
    impl_stub: "\"\"\"Arithmetic helpers.\"\"\"\n\n\ndef add(a, b):\n    return a + b\n\n\ndef multiply(a, b):\n    if a == 0:\n        return 0\n    raise NotImplementedError\n",
    impl_breaks_add: "\"\"\"Arithmetic helpers.\"\"\"\n\n\ndef add(a, b):\n    return a - b\n\n\ndef multiply(a, b):\n    return a * b\n",
    expect: Expect {
        red_syntax_codes: &["red.no_new_tests", "red.wrong_failure"],
        red_syntax_says: "test_multiply",
        earlier_tests: &["test_add_returns_the_sum", "test_add_handles_negatives"],
        earlier_broken: "green.regression",
        stub_says: &["`multiply`", "NotImplementedError"],
        missing: "multiply",
    },
};

scenario_tests!(PY);

/// VERIFY rejects GREEN's stub: the task goes back to GREEN with VERIFY's
/// evidence as a fix attempt (issue 13, finding 4: it used to end the task),
/// the worker writes the real code, VERIFY passes and the task merges.
#[test]
fn a_verify_rejection_goes_back_to_green_and_the_fix_merges() {
    let mut s = PY.setup("verify-fix");
    s.ctx.max_fix_attempts = 1;
    let mut worker = crate::support::Recording::new(
        PY.red(PY.weak_test)
            .write(KEY, Stage::Green, 1, PY.impl_file, PY.impl_stub)
            .write(KEY, Stage::Green, 2, PY.impl_file, PY.impl_real),
    );
    let out = tdd_engine::pipeline::run_task(&s.ctx, &PY.task(), &mut worker);

    assert!(out.merged(), "{}", story(&out));
    let order = attempt_order(&out);
    assert_eq!(
        order[1..5],
        [
            (Stage::Green, 1, Some(Outcome::Passed)),
            (Stage::Verify, 1, Some(Outcome::Violation)),
            (Stage::Green, 2, Some(Outcome::Passed)),
            (Stage::Verify, 2, Some(Outcome::Passed)),
        ],
        "{}",
        story(&out)
    );
    let told = worker.told_at(Stage::Green, 2);
    assert!(
        told.starts_with("VERIFY rejected the GREEN work") && told.contains("NotImplementedError"),
        "{told}"
    );
}

/// A hard-coded GREEN (issue 13, finding 8): `multiply` returns the one
/// value the RED test checks, whatever its arguments. Every test passes, so
/// only VERIFY's constant-return scan (on the functions the task wrote)
/// stops it, and it is not merged.
#[test]
fn a_hard_coded_green_is_rejected_by_verify() {
    let s = PY.setup("hard-coded");
    let hard_coded = PY
        .impl_real
        .replace("    return a * b\n", "    return 12\n");
    assert_ne!(
        hard_coded, PY.impl_real,
        "the fixture's multiply changed shape"
    );
    let mut worker = PY
        .red(PY.red_test)
        .write(KEY, Stage::Green, 1, PY.impl_file, &hard_coded);
    let out = tdd_engine::pipeline::run_task(&s.ctx, &PY.task(), &mut worker);

    let verify = attempt(&out, Stage::Verify);
    assert_eq!(codes(verify), ["verify.constant_return"], "{}", story(&out));
    let why = reason(verify, "verify.constant_return");
    assert!(
        why.contains("`multiply` returns `12` whatever its parameters (a, b)"),
        "{why}"
    );
    assert!(!out.merged(), "{}", story(&out));
}
