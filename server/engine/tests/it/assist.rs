//! Model-assisted decomposition against the fake model server, over real
//! HTTP in both dialects: a free-form PRD becomes a stored graph; fenced,
//! truncated and schema-violating answers are repaired or retried with the
//! problems; a model that never answers well fails after the bound; each
//! call carries only its requirement's section.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tdd_core::assist::prompt::{DETAIL_TOOL, LIST_TOOL};
use tdd_core::config::Config;
use tdd_core::plan::ProjectFiles;
use tdd_engine::assist::{AssistError, Assisted, Job};
use tdd_engine::planning;
use tdd_engine::store::Store;
use tdd_fake_model::{
    Config as FakeConfig, Entry, FakeModel, Fault, Match, RecordedRequest, Reply,
};
use tdd_workers::{ApiConfig, ApiDialect, Backoff};

const KEY: &str = "sk-assist-test";
const FREEFORM: &str = include_str!("../../../../tests/fixtures/prd/freeform.md");

fn settings(server: &FakeModel, dialect: ApiDialect) -> ApiConfig {
    let base_url = match dialect {
        ApiDialect::Anthropic => server.base_url(),
        ApiDialect::OpenAiChat => format!("{}/v1", server.base_url()),
    };
    let mut config = ApiConfig::new(dialect, base_url, KEY, "fake-model-1");
    config.timeout = Duration::from_secs(10);
    config.max_retries = 1;
    config.backoff = Backoff {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(1),
    };
    config
}

fn run(server: &FakeModel, dialect: ApiDialect) -> Result<Assisted, AssistError> {
    let layout = Config::default().project.layout();
    let project = ProjectFiles::default();
    let job = Job {
        name: "freeform.md",
        layout: &layout,
        project: &project,
        attempts: 3,
    };
    job.run(&settings(server, dialect), FREEFORM, &mut |_| {})
}

/// The answer in the dialect's structured form: a tool call, or JSON text.
fn answer(dialect: ApiDialect, tool: &str, value: &Value) -> Reply {
    match dialect {
        ApiDialect::Anthropic => Reply::tool(tool, value.clone()),
        ApiDialect::OpenAiChat => Reply::text(value.to_string()),
    }
}

fn when(text: &str, reply: Reply) -> Entry {
    let predicate = Match {
        last_message_contains: Some(text.to_string()),
        ..Match::default()
    };
    Entry::when(predicate, reply)
}

fn list() -> Value {
    json!({
        "title": "Pantry",
        "requirements": [
            {"id": "REQ-1", "title": "Track stock", "description": "The desk records items and takes them out.",
             "depends_on": [], "sources": ["S3", "S4"]},
            {"id": "REQ-2", "title": "Shopping list", "description": "Items below their minimum, with how many to buy.",
             "depends_on": ["REQ-1"], "sources": ["S6"]},
            {"id": "REQ-3", "title": "Weekly report", "description": "What was taken out in the last 7 days.",
             "depends_on": ["REQ-1"], "sources": ["S7", "S8"]}
        ]
    })
}

fn detail(n: u32) -> Value {
    let criteria = match n {
        1 => json!([
            {"id": "AC-1.1", "text": "WHEN the desk records 6 of a new item THE SYSTEM SHALL store the item with quantity 6."},
            {"id": "AC-1.2", "text": "WHEN the desk records an item that exists THE SYSTEM SHALL add to its quantity."},
            {"id": "AC-1.3", "text": "IF the desk takes out more than the quantity THEN THE SYSTEM SHALL refuse with error `not_enough_stock` and keep the quantity."}
        ]),
        2 => json!([
            {"id": "AC-2.1", "text": "WHEN an item is below its minimum THE SYSTEM SHALL list it with the quantity to buy."},
            {"id": "AC-2.2", "text": "THE SYSTEM SHALL sort the shopping list by item name."}
        ]),
        _ => json!([
            {"id": "AC-3.1", "text": "WHEN the desk asks for the weekly report THE SYSTEM SHALL list per item what was taken out in the last 7 days, most first."},
            {"id": "AC-3.2", "text": "THE SYSTEM SHALL leave out items nobody took."}
        ]),
    };
    json!({
        "module": format!("src/pantry/part{n}.py"),
        "tests": [format!("tests/test_part{n}.py")],
        "criteria": criteria
    })
}

fn script_all(server: &FakeModel, dialect: ApiDialect) {
    let usage = |r: Reply| r.with_usage(100, 20, 0);
    server.push(when(
        "Task: list the requirements",
        usage(answer(dialect, LIST_TOOL, &list())),
    ));
    for n in 1..=3 {
        let reply = usage(answer(dialect, DETAIL_TOOL, &detail(n)));
        server.push(when(&format!("Requirement: REQ-{n} "), reply));
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("assist-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn last_message(request: &RecordedRequest) -> String {
    let messages = request.body["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    last["content"].as_str().unwrap_or_default().to_string()
}

fn store_it(root: &Path, assisted: &Assisted) -> usize {
    let file = root.join("freeform.prd.md");
    std::fs::write(&file, &assisted.markdown).unwrap();
    let planned = planning::plan_file(root, &file).unwrap();
    assert!(planned.errors.is_empty(), "{:?}", planned.errors);
    let mut store = Store::open(planning::database_path(root)).unwrap();
    let changes = planning::apply(&mut store, &planned).unwrap();
    assert_eq!(changes.added.len(), planned.graph.tasks.len());
    planned.graph.tasks.len()
}

fn decomposes_through(dialect: ApiDialect, name: &str) {
    let server = FakeModel::start(FakeConfig::with_key(KEY)).unwrap();
    script_all(&server, dialect);
    let assisted = run(&server, dialect).unwrap();
    assert_eq!(server.remaining(), 0);

    let ids: Vec<&str> = assisted
        .outline
        .requirements
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(ids, ["REQ-1", "REQ-2", "REQ-3"]);
    let usage = assisted.report.usage;
    assert_eq!(
        (usage.calls, usage.input_tokens, usage.output_tokens),
        (4, 400, 80)
    );
    assert!(
        assisted
            .report
            .steps
            .iter()
            .all(|s| s.attempts == 1 && s.repairs.is_empty())
    );
    let root = temp_dir(name);
    let tasks = store_it(&root, &assisted);
    assert!(tasks >= 3, "{tasks} tasks");

    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    for request in &requests {
        assert!(!request.raw_body.contains(KEY));
        match dialect {
            ApiDialect::Anthropic => {
                let tool = request.body["tools"][0]["name"].as_str().unwrap();
                assert_eq!(
                    request.body["tool_choice"],
                    json!({"type": "tool", "name": tool})
                );
                assert_eq!(request.body["tools"][0]["input_schema"]["type"], "object");
            }
            ApiDialect::OpenAiChat => {
                let format = &request.body["response_format"];
                assert_eq!(format["type"], "json_schema");
                assert_eq!(format["json_schema"]["schema"]["type"], "object");
            }
        }
    }
    // The list call sees the whole document; each detail call only its section.
    let first = last_message(&requests[0]);
    assert!(first.contains("not_enough_stock") && first.contains("On Mondays"));
    let sections = [
        (
            "REQ-1",
            "not_enough_stock",
            ["minimum quantity", "On Mondays"],
        ),
        (
            "REQ-2",
            "minimum quantity",
            ["not_enough_stock", "On Mondays"],
        ),
        (
            "REQ-3",
            "On Mondays",
            ["not_enough_stock", "minimum quantity"],
        ),
    ];
    for (id, own, others) in sections {
        let text = requests[1..]
            .iter()
            .map(last_message)
            .find(|m| m.contains(&format!("Requirement: {id} ")))
            .unwrap();
        assert!(text.contains(own), "{id}: {text}");
        for other in others {
            assert!(!text.contains(other), "{id} carried `{other}`: {text}");
        }
        assert!(!text.contains("We keep losing track"), "{id}: {text}");
        assert!(text.contains("- REQ-1 Track stock\n- REQ-2 Shopping list\n- REQ-3 Weekly report"));
    }
}

#[test]
fn a_freeform_prd_becomes_a_stored_graph_over_anthropic() {
    decomposes_through(ApiDialect::Anthropic, "anthropic");
}

#[test]
fn a_freeform_prd_becomes_a_stored_graph_over_openai_chat() {
    decomposes_through(ApiDialect::OpenAiChat, "openai");
}

#[test]
fn fenced_truncated_and_invalid_answers_are_repaired_or_retried() {
    let dialect = ApiDialect::OpenAiChat;
    let server = FakeModel::start(FakeConfig::with_key(KEY)).unwrap();
    let fenced = format!(
        "Here is the plan:\n```json\n{:#}\n```\nLet me know!",
        list()
    );
    server.push(when("Task: list the requirements", Reply::text(fenced)));
    let full = detail(1).to_string();
    let cut = full.find("and keep the quantity").unwrap();
    server.push(when("Requirement: REQ-1 ", Reply::text(&full[..cut])));
    let mut wrong = detail(2);
    wrong["criteria"][0]["id"] = json!("criterion one");
    server.push(when("Requirement: REQ-2 ", Reply::text(wrong.to_string())));
    server.push(when(
        "Requirement: REQ-2 ",
        answer(dialect, DETAIL_TOOL, &detail(2)),
    ));
    server.push(when(
        "Requirement: REQ-3 ",
        answer(dialect, DETAIL_TOOL, &detail(3)),
    ));

    let assisted = run(&server, dialect).unwrap();

    let steps = &assisted.report.steps;
    assert!(
        steps[0]
            .repairs
            .iter()
            .any(|r| r == "removed a Markdown code fence"),
        "{:?}",
        steps[0]
    );
    assert!(
        steps[0]
            .repairs
            .iter()
            .any(|r| r.starts_with("removed text before the JSON"))
    );
    assert!(
        steps[1]
            .repairs
            .iter()
            .any(|r| r.starts_with("closed a truncated document")),
        "{:?}",
        steps[1]
    );
    let truncated = &assisted.outline.requirements[0].criteria[2].text;
    assert!(truncated.ends_with("`not_enough_stock` "), "{truncated}");
    assert_eq!((steps[2].attempts, steps[2].rejected.len()), (2, 1));
    let requests = server.requests();
    assert_eq!(requests.len(), 5);
    let retry = last_message(&requests[3]);
    assert!(
        retry.contains("Your previous answer was rejected"),
        "{retry}"
    );
    assert!(retry.contains("schema: at `/criteria/0/id`"), "{retry}");
    assert!(retry.contains("criterion one"), "{retry}");
    store_it(&temp_dir("repaired"), &assisted);
}

#[test]
fn graph_errors_are_fed_back_to_the_model() {
    let dialect = ApiDialect::Anthropic;
    let server = FakeModel::start(FakeConfig::with_key(KEY)).unwrap();
    let mut cyclic = list();
    cyclic["requirements"][0]["depends_on"] = json!(["REQ-3"]);
    server.push(when(
        "Task: list the requirements",
        answer(dialect, LIST_TOOL, &cyclic),
    ));
    script_all(&server, dialect);

    let assisted = run(&server, dialect).unwrap();

    assert_eq!(assisted.report.steps[0].attempts, 2);
    let retry = last_message(&server.requests()[1]);
    assert!(retry.contains("cycle"), "{retry}");
    assert!(
        assisted.report.steps[0].rejected[0]
            .iter()
            .any(|p| p.contains("REQ-3"))
    );
}

#[test]
fn a_model_that_never_answers_well_fails_after_the_bound() {
    let dialect = ApiDialect::OpenAiChat;
    let server = FakeModel::start(FakeConfig::with_key(KEY)).unwrap();
    for _ in 0..3 {
        server.push(Reply::text("I would rather write a poem.").with_usage(10, 5, 0));
    }

    let error = run(&server, dialect).unwrap_err();

    assert!(
        matches!(error, AssistError::Invalid { attempts: 3, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.starts_with("freeform.md: listing the requirements:"),
        "{message}"
    );
    assert!(
        message
            .contains("after 3 attempt(s) (3 model call(s), 30 input and 15 output tokens spent)"),
        "{message}"
    );
    assert!(
        message.contains("the reply has no JSON object"),
        "{message}"
    );
    assert_eq!((server.requests().len(), server.remaining()), (3, 0));
}

#[test]
fn a_provider_outage_is_reported_as_one() {
    let dialect = ApiDialect::Anthropic;
    let server = FakeModel::start(FakeConfig::with_key(KEY)).unwrap();
    server.push(Fault::ServerError);
    server.push(Fault::ServerError);

    let error = run(&server, dialect).unwrap_err();

    assert!(matches!(error, AssistError::Provider { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("freeform.md: listing the requirements: provider outage:"),
        "{message}"
    );
    assert_eq!(server.requests().len(), 2);
}
