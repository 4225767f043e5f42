//! `search_text` and `run_tests` through the pipeline: the model finds how
//! the project puts `src` on the import path, and checks its GREEN with the
//! task's tests (a real pytest run) before finishing.

use super::super::*;

#[test]
fn the_model_searches_the_project_and_runs_the_tests() {
    let server = FakeModel::start(Config::with_key(API_KEY)).unwrap();
    server.push(when(
        "Stage: RED",
        Reply::tool("search_text", json!({"pattern": "sys.path"})),
    ));
    server.push(when(
        "conftest.py:4: sys.path.insert",
        write_file(TEST_FILE, RED_TEST),
    ));
    server.push(when(
        "wrote tests/test_calc.py",
        Reply::tool("run_tests", json!({})),
    ));
    server.push(when(
        "missing symbol",
        finish("the test fails as it should"),
    ));
    server.push(when("Stage: GREEN", write_file(IMPL_FILE, REAL)));
    server.push(when(
        "wrote src/calc.py",
        Reply::tool("run_tests", json!({})),
    ));
    server.push(when("1 passed, 0 failed", finish("add passes")));
    server.push(when("Stage: REFACTOR", Reply::text("Nothing to improve.")));
    let root = python_repo("api-tools");
    let mut worker = worker(&server, ApiDialect::OpenAiChat);

    let outcome = run_task(&context(&root), &task(), &mut worker);

    assert!(
        matches!(outcome.status, TaskStatus::Merged { .. }),
        "{:?}\n{:#?}",
        outcome.status,
        server
            .requests()
            .iter()
            .map(|r| r.raw_body.chars().rev().take(600).collect::<String>())
            .collect::<Vec<_>>()
    );
    assert_eq!(server.remaining(), 0, "unused script entries");
}
