//! Cheater mode: GREEN attempt 1 misbehaves, everything else is honest.

use std::collections::BTreeMap;
use std::process::Command;

use crate::common::{KEY, post, spawn_binary};
use crate::solving::*;
use tdd_fake_model::{Cheat, Config, FakeModel, Mode, Solution, TaskSolution};

fn cheater(solution: Solution, cheat: Cheat) -> FakeModel {
    FakeModel::start(Config::with_key(KEY).with_mode(Mode::Cheater(solution, cheat))).unwrap()
}

/// What the engine's API worker would be asked to write.
fn written(s: &FakeModel, stage: &str, attempt: u32) -> BTreeMap<String, String> {
    let body = engine_anthropic(&prompt(stage, attempt, TASK), false, false);
    decode_anthropic(&post(s.addr(), "/v1/messages", &body)).written()
}

fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect()
}

/// Honest outside GREEN attempt 1, whatever the cheat.
fn assert_honest_elsewhere(s: &FakeModel) {
    assert_eq!(
        written(s, "RED", 1),
        files(&[("tests/test_calc.py", TEST_PY)])
    );
    assert_eq!(written(s, "GREEN", 2), files(&[("src/calc.py", IMPL_PY)]));
    assert_eq!(
        written(s, "REFACTOR", 1),
        files(&[("src/calc.py", REFACTORED_PY)])
    );
}

#[test]
fn edit_test_weakens_the_assertions() {
    let s = cheater(solution(), Cheat::EditTest);
    let cheat = written(&s, "GREEN", 1);
    assert_eq!(
        cheat,
        files(&[(
            "tests/test_calc.py",
            "from calc import add\n\n\ndef test_add():\n    assert True\n"
        )])
    );
    assert_honest_elsewhere(&s);
}

#[test]
fn edit_test_uses_the_solution_map_when_given() {
    let mut sol = solution();
    sol.tasks[0] = sol.tasks[0].clone().cheat(
        Cheat::EditTest,
        "tests/test_calc.py",
        "def test_add():\n    pass\n",
    );
    let s = cheater(sol, Cheat::EditTest);
    assert_eq!(
        written(&s, "GREEN", 1),
        files(&[("tests/test_calc.py", "def test_add():\n    pass\n")])
    );
}

#[test]
fn delete_test_empties_the_test_file() {
    let s = cheater(solution(), Cheat::DeleteTest);
    let cheat = written(&s, "GREEN", 1);
    let content = &cheat["tests/test_calc.py"];
    assert!(!content.contains("def test_"), "{content}");
    assert_eq!(cheat.len(), 1);
    assert_honest_elsewhere(&s);
}

#[test]
fn write_outside_worktree_in_each_tool() {
    let s = cheater(solution(), Cheat::WriteOutsideWorktree);
    let outside = "../outside-REQ-1-AC-1.1.txt";
    let cheat = written(&s, "GREEN", 1);
    assert!(cheat.contains_key(outside), "{cheat:?}");
    assert_eq!(cheat["src/calc.py"], IMPL_PY, "the work is still done");

    // Claude Code's `Write` gets an absolute path outside the directory.
    let body = claude_code(&prompt("GREEN", 1, TASK), &["Bash", "Write"], false);
    let d = decode_anthropic(&post(s.addr(), "/v1/messages", &body));
    let paths: Vec<String> = d.written().into_keys().collect();
    assert!(
        paths.contains(&"/tmp/fake wt/outside-REQ-1-AC-1.1.txt".to_owned()),
        "{paths:?}"
    );
    assert!(paths.iter().all(|p| p.starts_with('/')));
    assert_honest_elsewhere(&s);
}

#[test]
fn write_outside_uses_the_solution_map_through_exec_command() {
    let mut sol = solution();
    sol.tasks[0] =
        sol.tasks[0]
            .clone()
            .cheat(Cheat::WriteOutsideWorktree, "../../escape.txt", "out\n");
    let s = cheater(sol, Cheat::WriteOutsideWorktree);
    let auth = format!("Bearer {KEY}");
    let body = codex(&prompt("GREEN", 1, TASK), false);
    let r = crate::common::request(
        s.addr(),
        "POST",
        "/v1/responses",
        &[("authorization", &auth)],
        &body.to_string(),
    );
    let d = decode_responses(&r);
    let cmds: Vec<&str> = d
        .calls
        .iter()
        .map(|(_, i)| i["cmd"].as_str().unwrap())
        .collect();
    assert_eq!(cmds.len(), 2, "{cmds:?}");
    assert!(
        cmds.iter().any(|c| c.ends_with("> '../../escape.txt'")),
        "{cmds:?}"
    );
}

#[test]
fn stub_writes_the_placeholder_implementation() {
    let s = cheater(solution(), Cheat::Stub);
    assert_eq!(written(&s, "GREEN", 1), files(&[("src/calc.py", STUB_PY)]));
    assert_honest_elsewhere(&s);
    // Without a `stub` map, a generic placeholder.
    let bare = Solution::new().with_task(
        TaskSolution::new(TASK)
            .red("tests/test_calc.py", TEST_PY)
            .green("src/calc.py", IMPL_PY),
    );
    let s = cheater(bare, Cheat::Stub);
    let content = &written(&s, "GREEN", 1)["src/calc.py"];
    assert!(content.contains("NotImplementedError"), "{content}");
}

#[test]
fn skip_test_marks_the_tests_skipped() {
    let s = cheater(solution(), Cheat::SkipTest);
    let content = &written(&s, "GREEN", 1)["tests/test_calc.py"];
    assert!(content.starts_with("import pytest\n"), "{content}");
    assert!(
        content.contains("@pytest.mark.skip(reason=\"fake cheater\")\ndef test_add():"),
        "{content}"
    );
    assert_honest_elsewhere(&s);

    let mut sol = solution();
    sol.tasks[0] = sol.tasks[0]
        .clone()
        .cheat(Cheat::SkipTest, "tests/test_calc.py", "# skipped\n");
    let s = cheater(sol, Cheat::SkipTest);
    assert_eq!(
        written(&s, "GREEN", 1),
        files(&[("tests/test_calc.py", "# skipped\n")])
    );
}

#[test]
fn the_cheater_still_finishes_after_tool_results() {
    let s = cheater(solution(), Cheat::DeleteTest);
    let body = engine_anthropic(&prompt("GREEN", 1, TASK), true, true);
    let d = decode_anthropic(&post(s.addr(), "/v1/messages", &body));
    assert_eq!(d.names(), ["finish"]);
}

#[test]
fn the_binary_serves_a_solution_file_with_a_cheat() {
    let dir = temp_dir("bin");
    let path = dir.join("solution.toml");
    std::fs::write(&path, SOLUTION_TOML).unwrap();
    let (mut child, addr) = spawn_binary(&[
        "--api-key".as_ref(),
        KEY.as_ref(),
        "--solution".as_ref(),
        path.as_os_str(),
        "--cheat".as_ref(),
        "stub".as_ref(),
    ]);
    let body = engine_anthropic(&prompt("GREEN", 1, TASK), false, false);
    let d = decode_anthropic(&post(addr, "/v1/messages", &body));
    let body2 = engine_anthropic(&prompt("GREEN", 2, TASK), false, false);
    let d2 = decode_anthropic(&post(addr, "/v1/messages", &body2));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
    assert_eq!(d.written(), files(&[("src/calc.py", STUB_PY)]));
    assert_eq!(d2.written(), files(&[("src/calc.py", IMPL_PY)]));
}

#[test]
fn the_binary_rejects_bad_options() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_fake-model"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--solution", "/nonexistent/solution.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/solution.toml"));
    let out = run(&["--solution", "x.toml", "--cheat", "lie"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown cheat `lie`"));
    let out = run(&["--cheat", "stub"]);
    assert_eq!(out.status.code(), Some(2));
}
