//! The prompt: its parts, their bounds, and a snapshot per language over
//! the gate fixtures (tests/fixtures), which hold real project layouts.

use std::path::{Path, PathBuf};

use tdd_core::config::{Language, ProjectConfig};
use tdd_core::plan::TestCase;
use tdd_gates::Stage;

use super::super::context::{signatures, test_names};
use super::*;
use crate::{TestProbe, test_request};

#[test]
fn names_the_stage_the_task_the_writable_paths_and_bounded_feedback() {
    let mut request = test_request(Path::new("/wt"), Stage::Green, 2);
    request.task.title = "add(a, b)".to_string();
    request.task.criteria = vec!["AC-1.1".to_string()];
    request.writable = vec!["src/calc.py".to_string()];
    request.feedback = Some("x".repeat(50_000));
    let text = user_message(&request);
    assert!(text.starts_with("Stage: GREEN (attempt 2)"), "{text}");
    for part in [
        "add(a, b)",
        "AC-1.1",
        "- src/calc.py",
        "did not pass the gate",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    assert!(text.len() < 8_000, "{}", text.len());
}

/// The `multiply` task of the fixture of `language`, at `stage`.
fn fixture(language: Language, test: &str, code: &str, stage: Stage) -> StageRequest {
    let dir = language.as_str();
    let root =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../tests/fixtures/{dir}"));
    let mut request = test_request(&root, stage, 1);
    let task = &mut request.task;
    task.key = "REQ-2/AC-2.1".to_string();
    task.title = "multiply(a, b)".to_string();
    task.requirement = Some("REQ-2".to_string());
    task.criteria = vec!["AC-2.1".to_string()];
    task.test_file = Some(test.to_string());
    task.impl_file = Some(code.to_string());
    task.writes = vec![test.to_string(), code.to_string()];
    task.tests = vec![TestCase {
        name: "multiply returns the product".to_string(),
        criterion: "AC-2.1".to_string(),
        form: "event_driven".to_string(),
        precondition: None,
        action: Some("multiply(2, 3)".to_string()),
        outcome: "returns 6".to_string(),
        expected_errors: Vec::new(),
    }];
    request.writable = match stage {
        Stage::Red => vec![test.to_string()],
        _ => vec![code.to_string()],
    };
    let layout = ProjectConfig {
        language,
        ..ProjectConfig::default()
    }
    .layout();
    request.tests = Some(TestProbe::new(layout, vec![test.to_string()]));
    request
}

#[test]
fn python_prompt() {
    let request = fixture(
        Language::Python,
        "tests/test_multiply.py",
        "src/calc.py",
        Stage::Red,
    );
    let text = user_message(&request);
    assert!(text.contains("`from calc import …`"), "{text}");
    assert!(!text.contains(&request.worktree.display().to_string()));
    insta::assert_snapshot!(text);
}

#[test]
fn rust_prompt() {
    let request = fixture(
        Language::Rust,
        "tests/multiply.rs",
        "src/lib.rs",
        Stage::Red,
    );
    insta::assert_snapshot!(user_message(&request));
}

#[test]
fn typescript_prompt_on_a_green_retry() {
    let mut request = fixture(
        Language::Typescript,
        "tests/multiply.test.ts",
        "src/calc.ts",
        Stage::Green,
    );
    request.attempt = 2;
    request.feedback = Some(
        "the gate rejected the attempt (1 failed (assertion))\n- [green.task_failing] \
         tests/multiply.test.ts > multiply > returns the product does not pass"
            .to_string(),
    );
    let text = user_message(&request);
    assert!(text.contains("from \"../src/calc\""), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn go_prompt() {
    let request = fixture(
        Language::Go,
        "calc/multiply_test.go",
        "calc/calc.go",
        Stage::Red,
    );
    insta::assert_snapshot!(user_message(&request));
}

#[test]
fn every_context_part_is_bounded_and_says_when_it_was_cut() {
    let root = std::env::temp_dir().join(format!("tdd-api-prompt-big-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::create_dir_all(root.join("tests")).unwrap();
    let mut code = String::new();
    for i in 0..2_000 {
        code.push_str(&format!(
            "def function_number_{i}(a, b, c, d, e):\n    pass\n"
        ));
    }
    std::fs::write(root.join("src/calc.py"), &code).unwrap();
    for f in 0..30 {
        let tests: String = (0..50)
            .map(|i| format!("def test_a_rather_long_test_name_{f}_{i}():\n    pass\n"))
            .collect();
        std::fs::write(root.join(format!("tests/test_f{f}.py")), tests).unwrap();
    }
    let mut request = test_request(&root, Stage::Green, 1);
    request.task.test_file = Some("tests/test_calc.py".to_string());
    request.task.impl_file = Some("src/calc.py".to_string());
    let text = user_message(&request);
    assert!(text.contains("… and 1960 more"), "{text}");
    assert!(text.contains("[… clipped:"), "{text}");
    assert!(text.len() < 12_000, "{}", text.len());
}

#[test]
fn signatures_and_test_names_per_language() {
    let rust =
        "pub fn add(a: i32) -> i32 {\n    fn inner() {}\n}\nstruct Hidden;\npub struct Shown {\n";
    let found: Vec<String> = signatures(Language::Rust, rust)
        .into_iter()
        .map(|(n, s)| format!("{n}: {s}"))
        .collect();
    assert_eq!(
        found,
        ["1: pub fn add(a: i32) -> i32", "5: pub struct Shown"]
    );
    let python = "class Calc:\n    def add(self, a):\n        return a\n";
    assert_eq!(signatures(Language::Python, python).len(), 2);
    let go = "package calc\n\nfunc Add(a, b int) int {\n}\ntype T struct{}\n";
    assert_eq!(signatures(Language::Go, go).len(), 2);
    let ts = "export function add(a: number): number {\nconst x = 1;\nexport const k = 2;\n";
    assert_eq!(signatures(Language::Typescript, ts).len(), 2);
    let tests =
        "#[test]\nfn adds() {}\n\nfn helper() {}\n#[test]\n#[should_panic]\nfn panics() {}\n";
    assert_eq!(test_names(Language::Rust, tests), ["adds", "panics"]);
    let tests =
        "describe('add', () => {\n  it(\"adds\", () => {});\n  test(`negatives`, () => {});\n";
    assert_eq!(
        test_names(Language::Typescript, tests),
        ["add", "adds", "negatives"]
    );
    let tests = "func TestAdd(t *testing.T) {}\nfunc helper() {}\n";
    assert_eq!(test_names(Language::Go, tests), ["TestAdd"]);
    let tests = "def test_one():\n    pass\ndef helper():\n    pass\nasync def test_two():\n";
    assert_eq!(
        test_names(Language::Python, tests),
        ["test_one", "test_two"]
    );
}
