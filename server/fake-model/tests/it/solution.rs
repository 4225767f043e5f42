//! The solution file: its TOML shape, its errors, and no panics on any input.

use crate::solving::*;
use proptest::prelude::*;
use tdd_fake_model::{Cheat, Solution, SolutionError, TaskSolution};

#[test]
fn the_toml_file_matches_the_same_solution_built_in_code() {
    let built = Solution::new()
        .with_task(
            TaskSolution::new(TASK)
                .red("tests/test_calc.py", TEST_PY)
                .green("src/calc.py", IMPL_PY)
                .refactor("src/calc.py", REFACTORED_PY)
                .cheat(Cheat::Stub, "src/calc.py", STUB_PY),
        )
        .with_task(TaskSolution::new("REQ-2/AC-2.1").red(
            "tests/test_sub.py",
            "def test_sub():\n    assert 1 - 1 == 0\n",
        ));
    assert_eq!(solution(), built);
    let dir = temp_dir("solution");
    let path = dir.join("s.toml");
    std::fs::write(&path, SOLUTION_TOML).unwrap();
    assert_eq!(Solution::from_file(&path).unwrap(), built);
    let _ = std::fs::remove_dir_all(dir);
    assert_eq!(built.task("REQ-2/AC-2.1").unwrap().green.len(), 0);
    assert!(built.task("nope").is_none());
}

#[test]
fn cheat_maps_have_their_own_keys() {
    let text = r#"
[[task]]
task = "T"
cheat_edit_test = { "t.py" = "a" }
cheat_delete_test = { "t.py" = "b" }
cheat_write_outside_worktree = { "/tmp/x" = "c" }
cheat_stub = { "i.py" = "d" }
cheat_skip_test = { "t.py" = "e" }
"#;
    let s = Solution::from_toml_str(text).unwrap();
    let t = &s.tasks[0];
    for (cheat, content) in [
        (Cheat::EditTest, "a"),
        (Cheat::DeleteTest, "b"),
        (Cheat::WriteOutsideWorktree, "c"),
        (Cheat::Stub, "d"),
        (Cheat::SkipTest, "e"),
    ] {
        assert_eq!(
            t.cheat_files(cheat).values().next().map(String::as_str),
            Some(content)
        );
    }
}

#[test]
fn errors_are_positioned_and_say_what_is_wrong() {
    let err = |text: &str| Solution::from_toml_str(text).unwrap_err().to_string();
    let syntax = err("[[task]]\ntask = \"T\"\nred = { \"a\" = }\n");
    assert!(syntax.contains("line 3"), "{syntax}");
    let unknown = err("[[task]]\ntask = \"T\"\nblue = {}\n");
    assert!(unknown.contains("blue"), "{unknown}");
    let missing = err("[[task]]\nred = {}\n");
    assert!(missing.contains("task"), "{missing}");
    let twice = err("[[task]]\ntask = \"T\"\n[[task]]\ntask = \"T\"\n");
    assert!(
        twice.contains("task #2 `T`") && twice.contains("twice"),
        "{twice}"
    );
    let escape = err("[[task]]\ntask = \"T\"\ngreen = { \"../x.py\" = \"\" }\n");
    assert!(escape.contains("green: path `../x.py`"), "{escape}");
    let absolute = err("[[task]]\ntask = \"T\"\nred = { \"/etc/x\" = \"\" }\n");
    assert!(absolute.contains("must be relative"), "{absolute}");
    let empty = err("[[task]]\ntask = \" \"\n");
    assert!(empty.contains("non-empty"), "{empty}");
    match Solution::from_file(std::path::Path::new("/nonexistent/s.toml")) {
        Err(SolutionError::Read { path, .. }) => assert_eq!(path, "/nonexistent/s.toml"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cheat_names_parse_in_several_spellings() {
    for c in Cheat::ALL {
        assert_eq!(c.name().parse::<Cheat>(), Ok(c));
        assert_eq!(c.name().replace('_', "-").parse::<Cheat>(), Ok(c));
    }
    assert_eq!("EditTest".parse::<Cheat>(), Ok(Cheat::EditTest));
    assert!("lie".parse::<Cheat>().unwrap_err().contains("skip_test"));
}

/// Fragments that make TOML close to a solution's shape, so the parser's
/// deeper paths are reached, not just the first syntax error.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("[[task]]\n".to_owned()),
        Just("task = \"REQ-1\"\n".to_owned()),
        Just("[task.red]\n".to_owned()),
        Just("[task.green]\n".to_owned()),
        Just("stub = {}\n".to_owned()),
        Just("\"../a\" = \"x\"\n".to_owned()),
        Just("\"a/b.py\" = \"\"\"\nx\n\"\"\"\n".to_owned()),
        Just("refactor = 3\n".to_owned()),
        "[a-z_]{1,12} = \"[^\"\\\\\n]{0,8}\"\n",
        "\\PC{0,20}",
    ]
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = Solution::from_toml_str(&text);
    }

    #[test]
    fn solution_shaped_text_never_panics(parts in prop::collection::vec(fragment(), 0..12)) {
        let _ = Solution::from_toml_str(&parts.concat());
    }

    #[test]
    fn serialized_solutions_read_back_the_same(
        tasks in prop::collection::btree_map(
            "[A-Z]{1,4}-[0-9]{1,2}/AC-[0-9]\\.[0-9]",
            (prop::collection::btree_map("[a-z]{1,6}(/[a-z]{1,6}){0,2}\\.py", "\\PC{0,40}", 0..3),
             prop::collection::btree_map("[a-z]{1,6}\\.rs", "\\PC{0,40}", 0..3)),
            0..4,
        )
    ) {
        let mut solution = Solution::new();
        for (key, (red, green)) in tasks {
            let mut t = TaskSolution::new(key);
            t.red = red;
            t.green = green;
            solution = solution.with_task(t);
        }
        let text = toml::to_string(&solution).unwrap();
        prop_assert_eq!(Solution::from_toml_str(&text).unwrap(), solution);
    }
}
