//! `decompose --assist` through the real binary, against the fake model
//! server: a free-form PRD becomes `<name>.prd.md` and a stored graph; the
//! plain command names the flag; an existing result is not overwritten.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use tdd_fake_model::{Config, Entry, FakeModel, Match, Reply};

const KEY_ENV: &str = "TDD_TEST_ASSIST_KEY";
const KEY: &str = "sk-cli-assist";
const FREEFORM: &str = include_str!("../../../../tests/fixtures/prd/freeform.md");

fn project(name: &str, base_url: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-assist-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    std::fs::create_dir_all(dir.join(".tdd")).unwrap();
    std::fs::create_dir_all(dir.join("notes")).unwrap();
    std::fs::write(dir.join("notes/pantry.md"), FREEFORM).unwrap();
    let config = format!(
        "[project]\nlanguage = \"python\"\n\n[worker.api]\ndialect = \"openai_chat\"\n\
         base_url = \"{base_url}/v1\"\nmodel = \"fake-model-1\"\napi_key_env = \"{KEY_ENV}\"\n"
    );
    std::fs::write(dir.join(".tdd/config.toml"), config).unwrap();
    dir
}

fn run(dir: &Path, args: &[&str], key: Option<&str>) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tdd-orchestrator"));
    command.args(args).current_dir(dir).env_remove(KEY_ENV);
    if let Some(key) = key {
        command.env(KEY_ENV, key);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

fn when(text: &str, value: Value) -> Entry {
    let predicate = Match {
        last_message_contains: Some(text.to_string()),
        ..Match::default()
    };
    Entry::when(
        predicate,
        Reply::text(value.to_string()).with_usage(50, 10, 0),
    )
}

fn script(server: &FakeModel) {
    server.push(when(
        "Task: list the requirements",
        json!({"title": "Pantry", "requirements": [
            {"id": "REQ-1", "title": "Track stock", "description": "Record and take out items.",
             "depends_on": [], "sources": ["S4"]},
            {"id": "REQ-2", "title": "Shopping list", "description": "Items below their minimum.",
             "depends_on": ["REQ-1"], "sources": ["S6"]}
        ]}),
    ));
    server.push(when(
        "Requirement: REQ-1 ",
        json!({"criteria": [
            {"id": "AC-1.1", "text": "WHEN the desk records 6 of an item THE SYSTEM SHALL store quantity 6."},
            {"id": "AC-1.2", "text": "IF the desk takes out more than there is THEN THE SYSTEM SHALL refuse with error `not_enough_stock`."}
        ]}),
    ));
    server.push(when(
        "Requirement: REQ-2 ",
        json!({"tests": ["tests/test_shopping.py"], "criteria": [
            {"id": "AC-2.1", "text": "WHEN an item is below its minimum THE SYSTEM SHALL list it with the quantity to buy."}
        ]}),
    ));
}

#[test]
fn decompose_assist_writes_a_structured_prd_and_stores_its_graph() {
    let server = FakeModel::start(Config::with_key(KEY)).unwrap();
    let dir = project("store", &server.base_url());

    let (status, _, stderr) = run(&dir, &["decompose", "notes/pantry.md"], Some(KEY));
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("this PRD has no requirements"), "{stderr}");
    assert!(
        stderr.contains("`tdd-orchestrator decompose notes/pantry.md --assist`"),
        "{stderr}"
    );
    assert!(server.requests().is_empty());

    let (status, _, stderr) = run(&dir, &["decompose", "notes/pantry.md", "--assist"], None);
    assert_eq!(status, 2, "{stderr}");
    assert!(stderr.contains(KEY_ENV), "{stderr}");

    script(&server);
    let (status, stdout, stderr) = run(
        &dir,
        &["decompose", "notes/pantry.md", "--assist"],
        Some(KEY),
    );
    assert_eq!(status, 0, "{stderr}");
    assert!(
        stderr.contains("asking the model: listing the requirements"),
        "{stderr}"
    );
    assert!(
        stderr.contains("asking the model: criteria of REQ-2 (Shopping list)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("model usage: 3 call(s), 150 input tokens (0 cached), 30 output tokens"),
        "{stderr}"
    );
    assert!(stderr.contains("wrote notes/pantry.prd.md"), "{stderr}");
    assert!(stdout.contains("added ("), "{stdout}");
    assert_eq!(server.remaining(), 0);
    let written = std::fs::read_to_string(dir.join("notes/pantry.prd.md")).unwrap();
    assert!(written.contains("### REQ-2 Shopping list"), "{written}");
    assert!(
        written.contains("Tests: tests/test_shopping.py"),
        "{written}"
    );

    let (status, stdout, stderr) = run(&dir, &["tasks", "list"], None);
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.contains("notes/pantry.prd.md"), "{stdout}");
    assert!(stdout.contains("REQ-2/AC-2.1"), "{stdout}");

    let (status, _, stderr) = run(
        &dir,
        &["decompose", "notes/pantry.md", "--assist"],
        Some(KEY),
    );
    assert_eq!(status, 2, "{stderr}");
    assert!(
        stderr.contains("notes/pantry.prd.md already exists"),
        "{stderr}"
    );
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(server.requests().len(), 3, "no call after the refusal");
}

#[test]
fn a_dry_run_writes_the_prd_but_stores_nothing() {
    let server = FakeModel::start(Config::with_key(KEY)).unwrap();
    let dir = project("dry", &server.base_url());
    script(&server);

    let (status, stdout, stderr) = run(
        &dir,
        &[
            "decompose",
            "notes/pantry.md",
            "--assist",
            "--dry-run",
            "--format",
            "json",
        ],
        Some(KEY),
    );

    assert_eq!(status, 0, "{stderr}");
    let graph: Value = serde_json::from_str(&stdout).unwrap();
    assert!(graph["tasks"].as_array().unwrap().len() >= 2, "{stdout}");
    assert!(dir.join("notes/pantry.prd.md").exists());
    assert!(
        !dir.join(".tdd/orchestrator.db").exists(),
        "a dry run stores nothing"
    );
}
