//! The scenarios every language runs: each runs the task once and checks it,
//! with what differs between languages (messages, test ids) from the
//! language's `Expect`. `scenario_tests!` makes them the language's tests.

use tdd_engine::pipeline::{FailureKind, TaskStatus, run_task};
use tdd_gates::{ChangeKind, Outcome, Stage};

use super::harness::*;
use crate::support::{git, read};

/// RED writes a test file that does not parse.
pub fn red_with_a_syntax_error_is_rejected(lang: &Lang) {
    let s = lang.setup("red-syntax");
    let mut worker = lang.red(lang.red_syntax);
    let out = run_task(&s.ctx, &lang.task(), &mut worker);

    failed_at(&out, Stage::Red);
    let red = attempt(&out, Stage::Red);
    assert_eq!(red.outcome, Some(Outcome::Violation), "{}", story(&out));
    let why = reason(red, "red.wrong_failure");
    assert!(why.contains("(syntax error)"), "{}", story(&out));
    assert!(
        worker.requests.iter().all(|r| r.stage == Stage::Red),
        "no stage after a rejected RED"
    );
    assert_nothing_merged(&s.root);
    // The rejected attempt was put back: the worktree is as `main` left it.
    let wt = &out.worktree.as_ref().unwrap().path;
    assert!(!wt.join(lang.test_file).exists(), "{}", story(&out));
    assert_eq!(codes(red), lang.expect.red_syntax_codes, "{}", story(&out));
    assert!(why.contains(lang.expect.red_syntax_says), "{why}");
}

/// GREEN writes a wrong `multiply` and weakens the task's test until it passes.
pub fn green_editing_a_test_is_reverted_and_rejected(lang: &Lang) {
    let s = lang.setup("green-edit");
    let worker = lang.red(lang.red_test);
    let mut worker = writes(
        worker,
        Stage::Green,
        &[
            (lang.impl_file, lang.impl_wrong),
            (lang.test_file, lang.test_weakened),
        ],
    );
    let out = run_task(&s.ctx, &lang.task(), &mut worker);

    failed_at(&out, Stage::Green);
    let green = attempt(&out, Stage::Green);
    assert_eq!(green.reverted, [lang.test_file], "{}", story(&out));
    assert!(reason(green, "pipeline.test_reverted").contains(lang.test_file));
    assert!(reason(green, "green.test_changed").contains(lang.test_file));
    // The run after the revert judged the real test, which the wrong code fails.
    assert!(
        count(green, "failed") + count(green, "problems") >= 1,
        "{}",
        story(&out)
    );
    assert!(
        codes(green).contains(&"green.task_failing"),
        "{}",
        story(&out)
    );
    assert_eq!(in_worktree(&out, lang.test_file), lang.red_test);
    assert_nothing_merged(&s.root);
}

/// GREEN breaks `add` and deletes the earlier task's test file, which would fail.
pub fn green_deleting_a_test_is_rejected(lang: &Lang) {
    let s = lang.setup("green-delete");
    let worker =
        lang.red(lang.red_test)
            .write(KEY, Stage::Green, 1, lang.impl_file, lang.impl_breaks_add);
    let mut worker = Deleting {
        inner: worker,
        stage: Stage::Green,
        path: lang.earlier_test,
    };
    let out = run_task(&s.ctx, &lang.task(), &mut worker);

    failed_at(&out, Stage::Green);
    let green = attempt(&out, Stage::Green);
    assert_eq!(green.reverted, [lang.earlier_test], "{}", story(&out));
    assert!(
        green
            .changes
            .iter()
            .any(|c| c.path == lang.earlier_test && c.kind == ChangeKind::Deleted),
        "{:?}",
        green.changes
    );
    assert!(reason(green, "pipeline.test_reverted").contains(lang.earlier_test));
    assert!(reason(green, "green.test_changed").contains(lang.earlier_test));
    // The restored test ran, and failed on the broken `add`.
    assert!(count(green, "failed") >= 1, "{}", story(&out));
    assert_eq!(
        in_worktree(&out, lang.earlier_test),
        read(&lang.fixture_dir(), lang.earlier_test)
    );
    assert_nothing_merged(&s.root);
    let code = lang.expect.earlier_broken;
    assert_about(green, code, lang.expect.earlier_tests);
}

/// GREEN writes a wrong `multiply` and skips the task's test.
pub fn green_adding_a_skip_is_rejected(lang: &Lang) {
    let s = lang.setup("green-skip");
    let worker = lang.red(lang.red_test);
    let mut worker = writes(
        worker,
        Stage::Green,
        &[
            (lang.impl_file, lang.impl_wrong),
            (lang.test_file, lang.test_skipped),
        ],
    );
    let out = run_task(&s.ctx, &lang.task(), &mut worker);

    failed_at(&out, Stage::Green);
    let green = attempt(&out, Stage::Green);
    assert_eq!(green.reverted, [lang.test_file], "{}", story(&out));
    assert!(reason(green, "pipeline.test_reverted").contains(lang.test_file));
    assert!(
        codes(green).contains(&"green.test_changed"),
        "{}",
        story(&out)
    );
    // Judged without the skip: nothing skipped, the task's test fails.
    assert_eq!(count(green, "skipped"), 0, "{}", story(&out));
    assert!(
        codes(green).contains(&"green.task_failing"),
        "{}",
        story(&out)
    );
    assert_eq!(in_worktree(&out, lang.test_file), lang.red_test);
    assert_nothing_merged(&s.root);
}

/// GREEN makes `multiply` pass and breaks `add`; no test file is touched.
pub fn green_breaking_an_earlier_test_is_rejected(lang: &Lang) {
    let s = lang.setup("green-regression");
    let mut worker =
        lang.red(lang.red_test)
            .write(KEY, Stage::Green, 1, lang.impl_file, lang.impl_breaks_add);
    let out = run_task(&s.ctx, &lang.task(), &mut worker);

    failed_at(&out, Stage::Green);
    let green = attempt(&out, Stage::Green);
    assert!(green.reverted.is_empty(), "{}", story(&out));
    assert!(
        !codes(green).contains(&"green.test_changed"),
        "{}",
        story(&out)
    );
    assert!(count(green, "failed") >= 1, "{}", story(&out));
    assert_nothing_merged(&s.root);
    let code = lang.expect.earlier_broken;
    assert_eq!(codes(green), [code], "{}", story(&out));
    assert_about(green, code, lang.expect.earlier_tests);
    let why = reason(green, code);
    assert!(why.contains("(assertion: "), "{why}");
}

/// A weak test, and a stub that passes it: GREEN passes, VERIFY rejects.
pub fn a_stub_that_passes_the_tests_fails_verify(lang: &Lang) {
    let s = lang.setup("stub");
    let mut worker =
        lang.red(lang.weak_test)
            .write(KEY, Stage::Green, 1, lang.impl_file, lang.impl_stub);
    let out = run_task(&s.ctx, &lang.task(), &mut worker);

    failed_at(&out, Stage::Verify);
    let green = attempt(&out, Stage::Green);
    assert_eq!(green.outcome, Some(Outcome::Passed), "{}", story(&out));
    let verify = attempt(&out, Stage::Verify);
    assert_eq!(verify.worker, "engine");
    // The tests pass; only the placeholder is wrong.
    assert_eq!(codes(verify), ["verify.placeholder"], "{}", story(&out));
    assert_eq!(count(verify, "failed") + count(verify, "problems"), 0);
    let placeholder = verify
        .reasons
        .iter()
        .find(|r| r.code == "verify.placeholder")
        .unwrap();
    let subject = placeholder.subject.as_deref().unwrap_or("");
    assert!(
        subject.starts_with(&format!("{}:", lang.impl_file)),
        "{subject}"
    );
    let stages: Vec<Stage> = out.commits.iter().map(|(s, _)| *s).collect();
    assert_eq!(stages, [Stage::Red, Stage::Green]);
    assert_nothing_merged(&s.root);
    let why = &placeholder.message;
    assert!(
        lang.expect.stub_says.iter().all(|s| why.contains(s)),
        "{why}"
    );
}

/// REFACTOR breaks `multiply`: rolled back, and GREEN's work merges.
pub fn a_failed_refactor_is_rolled_back_and_green_merges(lang: &Lang) {
    let s = lang.setup("refactor");
    let worker = lang.red(lang.red_test);
    let mut worker = worker
        .write(KEY, Stage::Green, 1, lang.impl_file, lang.impl_real)
        .write(KEY, Stage::Refactor, 1, lang.impl_file, lang.impl_wrong);
    let out = run_task(&s.ctx, &lang.task(), &mut worker);

    assert!(out.merged(), "{}", story(&out));
    assert!(out.refactor_rolled_back);
    let refactor = attempt(&out, Stage::Refactor);
    assert_eq!(refactor.failure_kind, Some(FailureKind::Violation));
    assert!(
        codes(refactor).contains(&"refactor.task_failing"),
        "{}",
        story(&out)
    );
    // The rollback is on record as an empty REFACTOR commit.
    let commits = feature_commits(&s.root);
    let stages: Vec<&str> = commits.iter().map(|c| c.stage.as_str()).collect();
    assert_eq!(
        stages,
        ["red", "green", "verify", "refactor"],
        "{commits:?}"
    );
    assert_eq!(commits[3].outcome, "rolled-back", "{commits:?}");
    assert!(commits[3].files.is_empty(), "{commits:?}");
    let merged = git(&s.root, &["show", &format!("{FEATURE}:{}", lang.impl_file)]);
    assert_eq!(merged, lang.impl_real);
}

/// Everything right: merged, one commit per stage with its trailers.
pub fn a_correct_run_is_accepted(lang: &Lang) {
    let s = lang.setup("correct");
    let worker = lang.red(lang.red_test);
    let mut worker = worker
        .write(KEY, Stage::Green, 1, lang.impl_file, lang.impl_real)
        .write(
            KEY,
            Stage::Refactor,
            1,
            lang.impl_file,
            lang.impl_refactored,
        );
    let out = run_task(&s.ctx, &lang.task(), &mut worker);

    let tip = match &out.status {
        TaskStatus::Merged { feature_tip } => *feature_tip,
        _ => panic!("not merged\n{}", story(&out)),
    };
    assert!(!out.refactor_rolled_back && !out.already_implemented);
    assert!(
        out.attempts.iter().all(|a| a.failure_kind.is_none()),
        "{}",
        story(&out)
    );
    let stages: Vec<&str> = out.attempts.iter().map(|a| a.stage.as_str()).collect();
    assert_eq!(stages, ["red", "green", "verify", "refactor", "merge"]);
    // RED failed for the right reason: `multiply` does not exist yet.
    let red = attempt(&out, Stage::Red);
    let missing = format!("missing symbol: {}", lang.expect.missing);
    assert!(red.evidence.contains(&missing), "{}", story(&out));
    assert!(
        count(attempt(&out, Stage::Green), "failed") == 0,
        "{}",
        story(&out)
    );

    let commits = feature_commits(&s.root);
    let stages: Vec<&str> = commits.iter().map(|c| c.stage.as_str()).collect();
    assert_eq!(stages, ["red", "green", "verify", "refactor"]);
    assert!(
        commits
            .iter()
            .all(|c| c.task == KEY && c.outcome.is_empty()),
        "{commits:?}"
    );
    // Each commit holds its stage's work: tests, code, nothing, the refactor.
    let files: Vec<&[String]> = commits.iter().map(|c| c.files.as_slice()).collect();
    assert_eq!(
        files,
        [
            &[lang.test_file.to_string()][..],
            &[lang.impl_file.to_string()][..],
            &[][..],
            &[lang.impl_file.to_string()][..],
        ]
    );
    assert_eq!(
        git(&s.root, &["rev-parse", FEATURE]).trim(),
        tip.to_string()
    );
    let show = |path: &str| git(&s.root, &["show", &format!("{FEATURE}:{path}")]);
    assert_eq!(show(lang.impl_file), lang.impl_refactored);
    assert_eq!(show(lang.test_file), lang.red_test);
    assert_eq!(
        show(lang.earlier_test),
        read(&lang.fixture_dir(), lang.earlier_test)
    );
    let red_commit = git(
        &s.root,
        &["log", "-1", "--format=%B", &format!("{FEATURE}~3")],
    );
    assert!(red_commit.contains("Tdd-Evidence:"), "{red_commit}");
    assert!(!out.worktree.as_ref().unwrap().path.exists());
}

/// Every scenario above as a test of the language `$lang` (a `Lang`), named
/// as the scenario.
macro_rules! scenario_tests {
    ($lang:expr) => {
        scenario_tests!(@each $lang;
            red_with_a_syntax_error_is_rejected,
            green_editing_a_test_is_reverted_and_rejected,
            green_deleting_a_test_is_rejected,
            green_adding_a_skip_is_rejected,
            green_breaking_an_earlier_test_is_rejected,
            a_stub_that_passes_the_tests_fails_verify,
            a_failed_refactor_is_rolled_back_and_green_merges,
            a_correct_run_is_accepted,
        );
    };
    (@each $lang:expr; $($scenario:ident,)*) => {
        $(
            #[test]
            fn $scenario() {
                super::scenarios::$scenario(&$lang);
            }
        )*
    };
}
pub(crate) use scenario_tests;
