//! The API worker runs whole fixture PRDs (`tests/fixtures/runs`) end to end
//! against the fake model's solver, in both dialects: every task merged,
//! every worker attempt with its tokens and cost; and with 30 % of model
//! requests failing, the run still completes and no provider outage is ever
//! recorded as a violation.
//!
//! Real git repositories, real pytest and cargo runs, real HTTP. pytest comes
//! from the repository's `.venv` (scripts/test installs it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tdd_core::config::Language;
use tdd_engine::execution::{self, RunRequest, RunStatus, StopReason};
use tdd_engine::planning;
use tdd_engine::store::runs::AttemptRow;
use tdd_engine::store::{Queries, Store, StoreError, TaskStatus};
use tdd_fake_model::{Cheat, Config, FakeModel, Fault, Mode, Outcome, RandomFaults, Solution};
use tdd_workers::{ApiConfig, ApiDialect, ApiWorker, Backoff, Worker};

use crate::support::{copy_tree, git, path_with_venv, temp_dir};

const API_KEY: &str = "sk-solver-5b7e";

#[derive(Clone, Copy)]
enum Lang {
    Python,
    Rust,
}

impl Lang {
    fn dir(self) -> &'static str {
        match self {
            Lang::Python => "python",
            Lang::Rust => "rust",
        }
    }

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
    }

    fn solution(self) -> Solution {
        let path = Lang::fixtures()
            .join("runs")
            .join(self.dir())
            .join("solution.toml");
        Solution::from_file(&path).unwrap()
    }

    /// The fixture project with the PRD, committed and decomposed.
    fn project(self, name: &str) -> PathBuf {
        let root = temp_dir(&format!("solver-{}-{name}", self.dir()));
        copy_tree(&Lang::fixtures().join(self.dir()), &root);
        std::fs::copy(
            Lang::fixtures()
                .join("runs")
                .join(self.dir())
                .join("calc.prd.md"),
            root.join("calc.prd.md"),
        )
        .unwrap();
        let language = match self {
            Lang::Python => Language::Python,
            Lang::Rust => Language::Rust,
        };
        tdd_engine::project::init(&root, language, false).unwrap();
        git(&root, &["init", "-q", "-b", "main"]);
        git(&root, &["config", "user.name", "Ada Tester"]);
        git(&root, &["config", "user.email", "ada@example.com"]);
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-q", "-m", "calc can add"]);
        let planned = planning::plan_file(&root, &root.join("calc.prd.md")).unwrap();
        assert!(planned.errors.is_empty(), "{:?}", planned.errors);
        let mut store = Store::open(planning::database_path(&root)).unwrap();
        planning::apply(&mut store, &planned).unwrap();
        root
    }

    fn env(self, name: &str) -> Vec<(String, String)> {
        match self {
            Lang::Python => vec![
                ("PATH".to_string(), path_with_venv()),
                ("PYTHONDONTWRITEBYTECODE".to_string(), "1".to_string()),
            ],
            // One target dir for the run's worktrees, outside the build
            // running these tests.
            Lang::Rust => vec![(
                "CARGO_TARGET_DIR".to_string(),
                temp_dir(&format!("solver-rust-{name}-target"))
                    .display()
                    .to_string(),
            )],
        }
    }
}

/// A model each dialect's default price table knows.
fn model(dialect: ApiDialect) -> &'static str {
    match dialect {
        ApiDialect::Anthropic => "claude-sonnet-4-5",
        ApiDialect::OpenAiChat => "gpt-4o-mini",
    }
}

fn workers(
    server: &FakeModel,
    dialect: ApiDialect,
    count: usize,
    max_retries: u32,
) -> Vec<Box<dyn Worker>> {
    let base_url = match dialect {
        ApiDialect::Anthropic => server.base_url(),
        ApiDialect::OpenAiChat => format!("{}/v1", server.base_url()),
    };
    (1..=count)
        .map(|n| {
            let mut config = ApiConfig::new(dialect, &base_url, API_KEY, model(dialect));
            config.timeout = Duration::from_secs(5);
            config.max_retries = max_retries;
            config.backoff = Backoff {
                base: Duration::from_millis(5),
                cap: Duration::from_millis(50),
                max_retry_after: Duration::from_millis(50),
            };
            Box::new(ApiWorker::new(format!("api-{n}"), config).unwrap()) as Box<dyn Worker>
        })
        .collect()
}

struct Ran {
    root: PathBuf,
    status: RunStatus,
    attempts: Vec<AttemptRow>,
    tasks: Vec<(String, TaskStatus)>,
}

fn run(lang: Lang, dialect: ApiDialect, name: &str, config: Config) -> (Ran, FakeModel) {
    let root = lang.project(name);
    let server = FakeModel::start(config).unwrap();
    let workers = workers(&server, dialect, 2, 4);
    (run_with(lang, &root, name, workers), server)
}

fn run_with(lang: Lang, root: &Path, name: &str, workers: Vec<Box<dyn Worker>>) -> Ran {
    let mut req = RunRequest::new(root, root.join("calc.prd.md"), workers);
    req.env = lang.env(name);
    req.test_timeout = Duration::from_secs(300);
    let summary = execution::execute(req).unwrap();
    let store = Store::open(planning::database_path(root)).unwrap();
    let (attempts, tasks) = store
        .read(|tx| {
            let prd = tx.prd("calc.prd.md")?.unwrap();
            let run = tx.latest_run(prd.id)?.unwrap();
            let tasks = tx.tasks(prd.id)?.into_iter().map(|t| (t.key, t.status));
            Ok::<_, StoreError>((tx.attempts(run.id)?, tasks.collect()))
        })
        .unwrap();
    Ran {
        root: root.to_path_buf(),
        status: summary.status,
        attempts,
        tasks,
    }
}

fn solver(lang: Lang) -> Config {
    Config {
        api_key: API_KEY.to_string(),
        ..Config::default()
    }
    .with_mode(Mode::Solver(lang.solution()))
}

/// Every task merged, with the solution's files on the feature branch, and
/// every worker attempt priced.
fn assert_solved(lang: Lang, ran: &Ran) {
    assert_eq!(ran.status, RunStatus::Completed, "{:#?}", ran.attempts);
    assert!(
        ran.tasks.iter().all(|(_, s)| *s == TaskStatus::Done),
        "{:?}",
        ran.tasks
    );
    // Each file ends as the last task (in dependency order) left it.
    let mut last: BTreeMap<&str, &str> = BTreeMap::new();
    let solution = lang.solution();
    for task in &solution.tasks {
        for stage in [&task.red, &task.green, &task.refactor] {
            for (path, content) in stage {
                last.insert(path, content);
            }
        }
    }
    for (path, content) in last {
        let merged = git(&ran.root, &["show", &format!("tdd/calc:{path}")]);
        assert_eq!(merged, content, "{path} on the feature branch");
    }
    let worked: Vec<&AttemptRow> = ran
        .attempts
        .iter()
        .filter(|a| matches!(a.stage.as_str(), "red" | "green" | "refactor"))
        .collect();
    // An outage's attempt got no reply to count.
    let answered: Vec<&&AttemptRow> = worked
        .iter()
        .filter(|a| a.failure_kind.as_deref() != Some("provider_outage"))
        .collect();
    assert!(worked.len() >= 3 * ran.tasks.len(), "{worked:#?}");
    for attempt in answered {
        let usage = attempt
            .usage
            .unwrap_or_else(|| panic!("no usage on {attempt:#?}"));
        assert!(
            usage.calls >= 1 && usage.input_tokens > 0 && usage.output_tokens > 0,
            "{usage:?}"
        );
        assert!(usage.cost_usd.is_some_and(|c| c > 0.0), "{usage:?}");
    }
}

/// The feature branch's evidence holds when re-checked from git alone
/// (`verify-evidence`): each task's tests fail at RED as recorded and pass
/// at GREEN and at the tip. Each scratch checkout builds on its own (no
/// shared cargo target directory, which could call a stale build fresh).
fn assert_evidence_holds(lang: Lang, ran: &Ran) {
    let config = tdd_engine::project::load_config(&ran.root).unwrap();
    let env = match lang {
        Lang::Python => lang.env("recheck"),
        Lang::Rust => Vec::new(),
    };
    let checks = tdd_engine::recheck::recheck(
        &ran.root,
        "tdd/calc",
        &config.project.layout(),
        env,
        Duration::from_secs(300),
    )
    .unwrap();
    assert_eq!(checks.len(), ran.tasks.len(), "{checks:#?}");
    assert!(!checks.iter().any(|c| c.differs()), "{checks:#?}");
}

#[test]
fn the_python_prd_is_solved_over_anthropic() {
    let (ran, server) = run(
        Lang::Python,
        ApiDialect::Anthropic,
        "anthropic",
        solver(Lang::Python),
    );
    assert_solved(Lang::Python, &ran);
    assert_evidence_holds(Lang::Python, &ran);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.path.starts_with("/v1/messages"))
    );
    // The run's end event totals its model use.
    let store = Store::open(planning::database_path(&ran.root)).unwrap();
    let events = store.read(|tx| tx.events_after(0, 10_000)).unwrap();
    let finished = events.iter().find(|e| e.kind == "run.finished").unwrap();
    let usage = &finished.payload["model_usage"];
    assert!(usage["calls"].as_i64().unwrap() >= 9, "{usage}");
    assert!(usage["cost_usd"].as_f64().unwrap() > 0.0, "{usage}");
    // Each task's end event totals the task's.
    let merged: Vec<_> = events.iter().filter(|e| e.kind == "task.merged").collect();
    assert_eq!(merged.len(), 3);
    for event in merged {
        let calls = event.payload["model_usage"]["calls"].as_i64().unwrap();
        assert!(calls >= 3, "{:?}", event.payload);
    }
}

#[test]
fn the_python_prd_is_solved_over_openai_chat() {
    let (ran, server) = run(
        Lang::Python,
        ApiDialect::OpenAiChat,
        "openai",
        solver(Lang::Python),
    );
    assert_solved(Lang::Python, &ran);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.path == "/v1/chat/completions")
    );
}

#[test]
fn the_rust_prd_is_solved_over_anthropic() {
    let (ran, _server) = run(
        Lang::Rust,
        ApiDialect::Anthropic,
        "anthropic",
        solver(Lang::Rust),
    );
    assert_solved(Lang::Rust, &ran);
    assert_evidence_holds(Lang::Rust, &ran);
}

#[test]
fn the_rust_prd_is_solved_over_openai_chat() {
    let (ran, _server) = run(
        Lang::Rust,
        ApiDialect::OpenAiChat,
        "openai",
        solver(Lang::Rust),
    );
    assert_solved(Lang::Rust, &ran);
}

/// 30 % of model requests fail with every fault the fake server has; the
/// clients retry, and a task whose retries run out is re-queued.
fn faulty(seed: u64) -> Config {
    let mut config = solver(Lang::Python);
    config.random_faults = Some(RandomFaults {
        rate: 0.3,
        seed,
        kinds: vec![
            Fault::RateLimited {
                retry_after_secs: 0,
            },
            Fault::ServerError,
            Fault::Overloaded,
            Fault::Slow { delay_ms: 6_000 },
            Fault::CutStream { after_events: 2 },
            Fault::MalformedJson,
            Fault::UnknownTool {
                name: "delete_everything".to_string(),
            },
        ],
    });
    config
}

#[test]
fn with_30_percent_of_requests_failing_the_run_still_completes() {
    for (dialect, seed) in [(ApiDialect::Anthropic, 7), (ApiDialect::OpenAiChat, 11)] {
        let (ran, server) = run(
            Lang::Python,
            dialect,
            &format!("faults-{seed}"),
            faulty(seed),
        );
        let faults = server
            .requests()
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Fault { .. }))
            .count();
        let total = server.requests().len();
        assert!(
            faults * 100 >= total * 15,
            "only {faults} of {total} requests failed"
        );
        assert_solved(Lang::Python, &ran);
        // An outage is never a violation; what a violation says is the gate's.
        for attempt in &ran.attempts {
            if attempt.failure_kind.as_deref() == Some("violation") {
                let evidence = attempt.evidence.as_deref().unwrap_or_default();
                assert!(
                    !evidence.contains("provider outage") && !evidence.contains("HTTP"),
                    "{attempt:#?}"
                );
            }
        }
        // Every answered call is counted, those of attempts an outage cut
        // short too (issue 13: they were lost): at least the solver's
        // replies, at most those plus the faults that still answer (an
        // unknown tool, a slow reply).
        let counted: u64 = ran
            .attempts
            .iter()
            .filter_map(|a| a.usage)
            .map(|u| u64::from(u.calls))
            .sum();
        let count = |keep: fn(&Outcome) -> bool| {
            server
                .requests()
                .iter()
                .filter(|r| keep(&r.outcome))
                .count() as u64
        };
        let solved = count(|o| matches!(o, Outcome::Solved));
        let answering_faults = count(|o| {
            matches!(
                o,
                Outcome::Fault {
                    fault: Fault::UnknownTool { .. } | Fault::Slow { .. },
                    ..
                }
            )
        });
        assert!(
            (solved..=solved + answering_faults).contains(&counted),
            "counted {counted} calls; the model answered {solved} (+{answering_faults})"
        );
        let outages_with_use = ran
            .attempts
            .iter()
            .filter(|a| a.failure_kind.as_deref() == Some("provider_outage"))
            .filter(|a| a.usage.is_some_and(|u| u.calls > 0))
            .count();
        eprintln!(
            "seed {seed}: {faults} of {total} model requests failed; run completed; \
             {counted} calls counted ({outages_with_use} outage attempts kept theirs)"
        );
    }
}

/// A base_url nothing listens on (issue 13, finding 1): the run used to go
/// silent while the breaker's pause ran (10 minutes and more). Now, once a
/// breaker stops dispatch after outages that could not even connect, and no
/// model call ever got an answer, the run stops, saying what to check.
#[test]
fn an_unreachable_provider_stops_the_run_saying_what_to_check() {
    let root = Lang::Python.project("unreachable");
    let config = root.join(".tdd/config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[breakers.worker]\nfailures = 1\npause_secs = 600\n");
    std::fs::write(&config, text).unwrap();
    // A port that was free a moment ago: connections are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = ApiConfig::new(
        ApiDialect::Anthropic,
        format!("http://127.0.0.1:{port}"),
        API_KEY,
        model(ApiDialect::Anthropic),
    );
    config.max_retries = 0;
    let worker = Box::new(ApiWorker::new("api-1", config).unwrap()) as Box<dyn Worker>;
    let started = std::time::Instant::now();
    let ran = run_with(Lang::Python, &root, "unreachable", vec![worker]);

    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    eprintln!("run {}", ran.status);
    match &ran.status {
        RunStatus::Stopped(StopReason::ProviderUnreachable(why)) => {
            for part in [
                "provider unreachable",
                "cannot connect to",
                "base_url",
                "resume",
            ] {
                assert!(why.contains(part), "{part} not in {why}");
            }
        }
        other => panic!("{other:?}"),
    }
    // Nothing is lost: the tasks wait for `resume`.
    assert!(
        ran.tasks.iter().all(|(_, s)| *s == TaskStatus::Pending),
        "{:?}",
        ran.tasks
    );
}

#[test]
fn a_sustained_outage_opens_the_worker_breaker_and_a_good_trial_closes_it() {
    let root = Lang::Python.project("breaker");
    let config = root.join(".tdd/config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[breakers.worker]\nfailures = 2\npause_secs = 1\n");
    std::fs::write(&config, text).unwrap();
    let server = FakeModel::start(solver(Lang::Python)).unwrap();
    // Two attempts' worth of 500s (a first try and one retry each): two
    // outages in a row open the breaker; after its pause one trial runs.
    for _ in 0..4 {
        server.push(Fault::ServerError);
    }
    let workers = workers(&server, ApiDialect::Anthropic, 1, 1);
    let ran = run_with(Lang::Python, &root, "breaker", workers);
    assert_solved(Lang::Python, &ran);

    let outages: Vec<&AttemptRow> = ran
        .attempts
        .iter()
        .filter(|a| a.failure_kind.is_some())
        .collect();
    assert_eq!(outages.len(), 2, "{outages:#?}");
    assert!(
        outages
            .iter()
            .all(|a| a.failure_kind.as_deref() == Some("provider_outage")),
        "{outages:#?}"
    );
    let store = Store::open(planning::database_path(&root)).unwrap();
    let transitions = store
        .read(|tx| tx.breaker_transitions("worker", "api-1"))
        .unwrap();
    let path: Vec<(&str, &str)> = transitions
        .iter()
        .map(|t| (t.from_state.as_str(), t.to_state.as_str()))
        .collect();
    assert_eq!(
        path,
        [
            ("closed", "open"),
            ("open", "half_open"),
            ("half_open", "closed")
        ],
        "{transitions:#?}"
    );
}

/// The cheater cheats in GREEN on attempt 1 and answers honestly after:
/// every cheat is caught, said in the attempt's evidence, and the run
/// still completes from the FIX loop's honest retry.
#[test]
fn every_cheat_of_the_api_worker_is_caught_and_named_in_the_evidence() {
    let cases = [
        (Cheat::EditTest, "[worker.permission_denied]"),
        (Cheat::DeleteTest, "[worker.permission_denied]"),
        (Cheat::SkipTest, "[worker.permission_denied]"),
        (
            Cheat::WriteOutsideWorktree,
            "contains `..`: use a path inside the project",
        ),
        (Cheat::Stub, "[green.task_failing]"),
    ];
    for (cheat, caught) in cases {
        let config = Config {
            api_key: API_KEY.to_string(),
            ..Config::default()
        }
        .with_mode(Mode::Cheater(Lang::Python.solution(), cheat));
        let name = format!("cheat-{}", cheat.name());
        let (ran, _server) = run(Lang::Python, ApiDialect::Anthropic, &name, config);
        assert_solved(Lang::Python, &ran);
        let firsts: Vec<&AttemptRow> = ran
            .attempts
            .iter()
            .filter(|a| a.stage == "green" && a.attempt == 1)
            .collect();
        assert_eq!(firsts.len(), ran.tasks.len(), "{cheat}: {firsts:#?}");
        for first in firsts {
            let evidence = first.evidence.as_deref().unwrap_or_default();
            assert_eq!(
                first.failure_kind.as_deref(),
                Some("violation"),
                "{cheat}: {evidence}"
            );
            assert!(evidence.contains(caught), "{cheat}: {evidence}");
        }
        eprintln!("{cheat}: caught as {caught}");
    }
}
