//! Per-stage models and escalation on retries, checked in the requests the
//! fake server recorded.

use super::super::*;

fn model_asked(dialect: ApiDialect, stage: Stage, attempt: u32) -> String {
    let server = FakeModel::start(Config::with_key(API_KEY)).unwrap();
    server.push(Reply::text("nothing to do"));
    let mut request = request("api-models", &[TEST_FILE]);
    request.stage = stage;
    request.attempt = attempt;
    let mut worker = worker_with(&server, dialect, |c| {
        c.models.red = Some("red-model".to_string());
        c.models.green = Some("green-model".to_string());
        c.escalate_model = Some("big-model".to_string());
        c.escalate_after = 2;
    });

    let report = worker.perform(&request).unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let model = requests[0].body["model"].as_str().unwrap().to_string();
    assert_eq!(report.model.as_deref(), Some(model.as_str()));
    model
}

#[test]
fn each_stage_asks_its_model_and_retries_escalate() {
    for dialect in [ApiDialect::Anthropic, ApiDialect::OpenAiChat] {
        assert_eq!(model_asked(dialect, Stage::Red, 1), "red-model");
        assert_eq!(model_asked(dialect, Stage::Green, 2), "green-model");
        assert_eq!(model_asked(dialect, Stage::Refactor, 1), "fake-model-1");
        assert_eq!(model_asked(dialect, Stage::Green, 3), "big-model");
        assert_eq!(model_asked(dialect, Stage::Refactor, 4), "big-model");
    }
}

/// GREEN's first attempt writes a stub the gate rejects; the retry goes to
/// the escalation model, which the fake server only answers for it.
#[test]
fn a_green_retry_in_the_pipeline_goes_to_the_escalation_model() {
    let server = FakeModel::start(Config::with_key(API_KEY)).unwrap();
    let for_model = |model: &str, text: &str, reply: Reply| {
        Entry::when(
            Match {
                model: Some(model.to_string()),
                last_message_contains: Some(text.to_string()),
                ..Match::default()
            },
            reply,
        )
    };
    server.push(when("Stage: RED", write_file(TEST_FILE, RED_TEST)));
    server.push(when("wrote tests/test_calc.py", finish("wrote the test")));
    let wrong = "def add(a, b):\n    return a - b\n";
    server.push(for_model(
        "small-model",
        "Stage: GREEN (attempt 1)",
        write_file(IMPL_FILE, wrong),
    ));
    server.push(for_model(
        "small-model",
        "wrote src/calc.py",
        finish("wrote add"),
    ));
    server.push(for_model(
        "big-model",
        "Stage: GREEN (attempt 2)",
        write_file(IMPL_FILE, REAL),
    ));
    server.push(for_model(
        "big-model",
        "wrote src/calc.py",
        finish("fixed add"),
    ));
    server.push(when("Stage: REFACTOR", Reply::text("Nothing to improve.")));
    let root = python_repo("api-escalate");
    let mut worker = worker_with(&server, ApiDialect::Anthropic, |c| {
        c.models.green = Some("small-model".to_string());
        c.escalate_model = Some("big-model".to_string());
        c.escalate_after = 1;
    });

    let outcome = run_task(&context(&root), &task(), &mut worker);

    assert!(
        matches!(outcome.status, TaskStatus::Merged { .. }),
        "{:?}",
        outcome.status
    );
    assert_eq!(server.remaining(), 0, "unused script entries");
    assert_eq!(git(&root, &["show", "tdd/calc:src/calc.py"]), REAL);
}
