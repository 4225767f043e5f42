//! Model-turn benchmark: the API worker's own time per model turn, with the
//! model's time taken out; then the model calls and tokens per task when the
//! fake model's solver completes the fixture PRDs.
//!
//! `cargo run --release -p tdd-engine --example model_turn_bench`. Prints
//! numbers, asserts nothing (it exits 1 only if a run does not complete).
//!
//! Part 1, method. A fake model server on 127.0.0.1 is scripted with
//! [`TURNS`] replies, each one tool call cycling through `read_file`,
//! `write_file` (2 KB), `edit_file`, `list_files` and `search_text`, then
//! `finish`. `ApiWorker::perform` runs them all in one attempt: its wall
//! time holds everything the worker does per turn (the prompt and history,
//! serializing the request, reading JSON or SSE, the tool call on real files)
//! plus the model's time. The model's time is then measured alone: the very
//! requests the server recorded are sent again by a bare HTTP client to the
//! same server scripted with the same replies, and their bodies read to the
//! end. The difference, divided by the turns, is the engine's own time per
//! turn. Each case runs [`RUNS`] times, the two measurements of a run one
//! right after the other; the median and quartiles of the per-run
//! differences are printed (a shared machine makes single runs noisy).
//!
//! Part 2 runs `tests/fixtures/runs/{python,rust}` with two API workers
//! against the solver (real git, pytest and cargo) and prints, per completed
//! task, the model calls and tokens the store recorded. The solver reports
//! about a token per 4 bytes of each request, so these are the sizes of the
//! engine's own prompts and histories.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use tdd_core::config::Language;
use tdd_engine::execution::{self, RunRequest, RunStatus};
use tdd_engine::planning;
use tdd_engine::store::{Queries, Store, StoreError};
use tdd_fake_model::{Config, FakeModel, Mode, RecordedRequest, Reply, Solution};
use tdd_gates::Stage;
use tdd_workers::{ApiConfig, ApiDialect, ApiWorker, StageRequest, Worker};

const TURNS: usize = 200;
const RUNS: usize = 15;
const KEY: &str = "bench-key";

fn main() {
    if let Err(e) = run() {
        eprintln!("model_turn_bench: FAILED: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("tdd-model-turn-bench-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    println!(
        "engine time per model turn ({TURNS} turns per attempt, {RUNS} runs; model time removed \
         by replaying the same requests with a bare client):"
    );
    println!(
        "  {:<12} {:<6} {:>12} {:>12} {:>24}",
        "dialect", "mode", "attempt ms", "model ms", "engine µs/turn (p25–p75)"
    );
    for dialect in [ApiDialect::Anthropic, ApiDialect::OpenAiChat] {
        for stream in [false, true] {
            turn_overhead(&dir, dialect, stream)?;
        }
    }
    println!();
    println!("model use per completed task (fixture PRDs, two API workers, the solver):");
    for lang in ["python", "rust"] {
        fixture_run(&dir, lang)?;
    }
    let _ = fs::remove_dir_all(&dir);
    Ok(())
}

/// The scripted conversation: one tool call per turn, then `finish`.
fn script(server: &FakeModel) {
    let body: String = (0..40)
        .map(|i| format!("def f_{i}(x):\n    return x + {i}\n\n"))
        .collect();
    for turn in 0..TURNS {
        let reply = match turn % 5 {
            0 => Reply::tool("read_file", json!({"path": "src/work.py"})),
            1 => Reply::tool(
                "write_file",
                json!({"path": "src/work.py", "content": body}),
            ),
            2 => Reply::tool(
                "edit_file",
                json!({"path": "src/work.py", "search": "return x + 7\n", "replace": "return x + 7  # seven\n"}),
            ),
            3 => Reply::tool("list_files", json!({"path": "src"})),
            _ => Reply::tool("search_text", json!({"pattern": "def f_3"})),
        };
        server.push(reply.with_usage(1_000, 50, 0));
    }
    server.push(Reply::tool("finish", json!({"summary": "done"})));
}

fn turn_overhead(dir: &Path, dialect: ApiDialect, stream: bool) -> Result<(), String> {
    let worktree = dir.join(format!("turns-{dialect:?}-{stream}"));
    fs::create_dir_all(worktree.join("src")).map_err(|e| e.to_string())?;
    fs::write(
        worktree.join("src/work.py"),
        "def f_7(x):\n    return x + 7\n",
    )
    .map_err(|e| e.to_string())?;
    let server = FakeModel::start(Config::with_key(KEY)).map_err(|e| e.to_string())?;
    let base = match dialect {
        ApiDialect::Anthropic => server.base_url(),
        ApiDialect::OpenAiChat => format!("{}/v1", server.base_url()),
    };
    let mut config = ApiConfig::new(dialect, &base, KEY, "bench-model");
    config.stream = stream;
    config.max_turns = TURNS as u32 + 1;
    let mut worker = ApiWorker::new("bench", config).map_err(|e| e.to_string())?;
    let request = StageRequest {
        task: task(),
        stage: Stage::Green,
        worktree: worktree.clone(),
        writable: vec!["src/work.py".to_string()],
        feedback: None,
        attempt: 1,
        tests: None,
        cancel: Default::default(),
        notice: None,
    };
    let client = reqwest::blocking::Client::new();
    let (mut attempts, mut models) = (Vec::new(), Vec::new());
    // One warm-up run, not counted.
    for run in 0..=RUNS {
        script(&server);
        let before = server.requests().len();
        let started = Instant::now();
        worker.perform(&request).map_err(|e| e.to_string())?;
        let attempt = started.elapsed();
        let sent: Vec<RecordedRequest> = server.requests().split_off(before);
        if sent.len() != TURNS + 1 {
            return Err(format!("{} requests, expected {}", sent.len(), TURNS + 1));
        }
        script(&server);
        let started = Instant::now();
        for recorded in &sent {
            replay(&client, &server, recorded)?;
        }
        let model = started.elapsed();
        if run > 0 {
            attempts.push(attempt);
            models.push(model);
        }
    }
    let per_turn: Vec<f64> = attempts
        .iter()
        .zip(&models)
        .map(|(a, m)| (a.as_secs_f64() - m.as_secs_f64()) * 1e6 / (TURNS + 1) as f64)
        .collect();
    println!(
        "  {:<12} {:<6} {:>12} {:>12} {:>24}",
        format!("{dialect:?}"),
        if stream { "sse" } else { "json" },
        ms(median_d(&attempts)),
        ms(median_d(&models)),
        format!(
            "{:.0} ({:.0}–{:.0})",
            quantile(&per_turn, 0.5),
            quantile(&per_turn, 0.25),
            quantile(&per_turn, 0.75)
        )
    );
    Ok(())
}

/// Sends a recorded request again, as it was, and reads the whole answer.
fn replay(
    client: &reqwest::blocking::Client,
    server: &FakeModel,
    recorded: &RecordedRequest,
) -> Result<(), String> {
    let mut request = client.post(format!("{}{}", server.base_url(), recorded.path));
    for (name, value) in &recorded.headers {
        if !matches!(name.as_str(), "host" | "content-length") {
            request = request.header(name, value);
        }
    }
    let response = request
        .body(recorded.raw_body.clone())
        .send()
        .map_err(|e| e.to_string())?;
    response.bytes().map_err(|e| e.to_string())?;
    Ok(())
}

/// A task shaped like the planner's, from a one-requirement PRD.
fn task() -> tdd_core::plan::Task {
    let prd = "# Work\n\n## Requirements\n\n### REQ-1 Work\n\nAs a user, I want work done so \
               that it is done.\n\nModule: src/work.py\nTests: tests/test_work.py\n\n\
               Acceptance criteria:\n- AC-1.1: WHEN the user works THE SYSTEM SHALL return 8.\n";
    let dir = std::env::temp_dir().join(format!("tdd-model-turn-task-{}", std::process::id()));
    let _ = fs::create_dir_all(&dir);
    let _ = fs::write(dir.join("work.prd.md"), prd);
    let planned = planning::plan_file(&dir, &dir.join("work.prd.md")).expect("the PRD plans");
    let _ = fs::remove_dir_all(&dir);
    planned.graph.tasks.into_iter().next().expect("one task")
}

fn fixture_run(dir: &Path, lang: &str) -> Result<(), String> {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let root = dir.join(format!("run-{lang}"));
    copy_tree(&fixtures.join(lang), &root)?;
    fs::copy(
        fixtures.join("runs").join(lang).join("calc.prd.md"),
        root.join("calc.prd.md"),
    )
    .map_err(|e| e.to_string())?;
    let language = if lang == "python" {
        Language::Python
    } else {
        Language::Rust
    };
    tdd_engine::project::init(&root, language, false).map_err(|e| e.to_string())?;
    for args in [
        &["init", "-q", "-b", "main"][..],
        &[
            "-c",
            "user.name=Bench",
            "-c",
            "user.email=bench@example.com",
            "add",
            "-A",
        ],
        &[
            "-c",
            "user.name=Bench",
            "-c",
            "user.email=bench@example.com",
            "commit",
            "-q",
            "-m",
            "calc",
        ],
    ] {
        git(&root, args)?;
    }
    let planned =
        planning::plan_file(&root, &root.join("calc.prd.md")).map_err(|e| e.to_string())?;
    let mut store = Store::open(planning::database_path(&root)).map_err(|e| e.to_string())?;
    planning::apply(&mut store, &planned).map_err(|e| e.to_string())?;
    drop(store);

    let solution = Solution::from_file(&fixtures.join("runs").join(lang).join("solution.toml"))
        .map_err(|e| e.to_string())?;
    let server = FakeModel::start(Config::with_key(KEY).with_mode(Mode::Solver(solution)))
        .map_err(|e| e.to_string())?;
    let workers: Vec<Box<dyn Worker>> = (1..=2)
        .map(|n| {
            let config = ApiConfig::new(
                ApiDialect::Anthropic,
                server.base_url(),
                KEY,
                "claude-sonnet-4-5",
            );
            Box::new(ApiWorker::new(format!("api-{n}"), config).expect("a client"))
                as Box<dyn Worker>
        })
        .collect();
    let mut req = RunRequest::new(&root, root.join("calc.prd.md"), workers);
    req.env = match language {
        Language::Python => {
            let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin");
            if !venv.join("pytest").exists() {
                return Err(format!(
                    "no pytest in {}: run ./scripts/test first",
                    venv.display()
                ));
            }
            let path = format!(
                "{}:{}",
                venv.display(),
                std::env::var("PATH").unwrap_or_default()
            );
            vec![("PATH".to_string(), path)]
        }
        _ => vec![(
            "CARGO_TARGET_DIR".to_string(),
            dir.join("rust-target").display().to_string(),
        )],
    };
    let started = Instant::now();
    let summary = execution::execute(req).map_err(|e| e.to_string())?;
    let wall = started.elapsed();
    if summary.status != RunStatus::Completed {
        return Err(format!("the {lang} run ended {}", summary.status));
    }
    let store = Store::open(planning::database_path(&root)).map_err(|e| e.to_string())?;
    let rows = store
        .read(|tx| {
            let prd = tx.prd("calc.prd.md")?.expect("stored");
            let run = tx.latest_run(prd.id)?.expect("a run");
            let tasks = tx.tasks(prd.id)?;
            let attempts = tx.attempts(run.id)?;
            Ok::<_, StoreError>((tasks, attempts))
        })
        .map_err(|e| e.to_string())?;
    let (tasks, attempts) = rows;
    println!(
        "  {lang}: {} tasks in {:.1} s",
        tasks.len(),
        wall.as_secs_f64()
    );
    let mut total = (0, 0, 0, 0.0);
    for task in &tasks {
        let used = attempts
            .iter()
            .filter(|a| a.task_id == task.id)
            .filter_map(|a| a.usage);
        let (calls, tokens_in, tokens_out, cost) = used.fold((0, 0, 0, 0.0), |t, u| {
            (
                t.0 + u.calls,
                t.1 + u.input_tokens,
                t.2 + u.output_tokens,
                t.3 + u.cost_usd.unwrap_or(0.0),
            )
        });
        println!(
            "    {:<14} {calls:>3} calls  {tokens_in:>7} tokens in  {tokens_out:>5} out  ${cost:.4}",
            task.key
        );
        total = (
            total.0 + calls,
            total.1 + tokens_in,
            total.2 + tokens_out,
            total.3 + cost,
        );
    }
    let n = tasks.len().max(1) as f64;
    println!(
        "    per task       {:>5.1} calls  {:>7.0} tokens in  {:>5.0} out  ${:.4}",
        total.0 as f64 / n,
        total.1 as f64 / n,
        total.2 as f64 / n,
        total.3 / n
    );
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    fs::create_dir_all(to).map_err(|e| e.to_string())?;
    for entry in fs::read_dir(from).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name();
        if ["node_modules", "target", "__pycache__", ".pytest_cache"]
            .iter()
            .any(|s| name == *s)
        {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().map_err(|e| e.to_string())?.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            fs::copy(&src, &dst).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn git(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn median_d(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}
