//! The panel protocol's costs, printed (docs/performance.md):
//!
//! 1. `snapshot` of a project with 1,000 tasks (a real decomposed PRD, five
//!    attempts a task, the matching event log): percentiles over repeats;
//! 2. an event's latency from the store's commit to an SSE client of the
//!    daemon (in this process, on 127.0.0.1): percentiles, one event every
//!    10 ms, then at full speed;
//! 3. the daemon's resident memory once it serves 10 registered projects
//!    (listed, snapshotted, streamed from). The daemon is this program
//!    re-run as a child (`--serve <registry>`), so the fixtures built here
//!    do not count.
//!
//! `cargo run --release -p tdd-http --example daemon_bench`

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tdd_engine::registry::Registry;
use tdd_engine::store::runs::NewAttempt;
use tdd_engine::store::{Queries, Store};
use tdd_engine::{planning, view};

const TOKEN: &str = "bench-token-0123456789abcdef0123456789abcdef0123456789abcdef";

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64) * p / 100.0).ceil() as usize;
    sorted[rank.saturating_sub(1).min(sorted.len() - 1)]
}

fn report(what: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    println!(
        "{what}: n={} p50={:.2} ms p95={:.2} ms p99={:.2} ms max={:.2} ms",
        ms.len(),
        percentile(&ms, 50.0),
        percentile(&ms, 95.0),
        percentile(&ms, 99.0),
        ms[ms.len() - 1]
    );
}

/// A PRD of `requirements` × `criteria` tasks, each requirement depending
/// on the one before (so waves are deep).
fn prd(requirements: usize, criteria: usize) -> String {
    let mut text = String::from("# Big\n\nA large project.\n\n## Requirements\n\n");
    for r in 1..=requirements {
        text.push_str(&format!(
            "### REQ-{r} Feature {r}\n\nAs a user, I want feature {r} so that work gets done.\n\nModule: src/f{r}.py\nTests: tests/test_f{r}.py\n"
        ));
        if r > 1 {
            text.push_str(&format!("Depends on: REQ-{}\n", r - 1));
        }
        text.push_str("\nAcceptance criteria:\n");
        for c in 1..=criteria {
            text.push_str(&format!(
                "- AC-{r}.{c}: WHEN the user asks for case {c} THE SYSTEM SHALL return {c}.\n"
            ));
        }
        text.push('\n');
    }
    text
}

/// A project directory with `tasks` tasks decomposed into its store, five
/// attempts a task and an event for each.
fn project(dir: &Path, requirements: usize, criteria: usize) -> PathBuf {
    let root = dir.to_path_buf();
    std::fs::create_dir_all(&root).unwrap();
    tdd_engine::project::init(&root, tdd_core::config::Language::Python, true).unwrap();
    std::fs::write(root.join("big.prd.md"), prd(requirements, criteria)).unwrap();
    let planned = planning::plan_file(&root, &root.join("big.prd.md")).unwrap();
    assert!(planned.errors.is_empty(), "{:?}", planned.errors);
    let mut store = Store::open(planning::database_path(&root)).unwrap();
    planning::apply(&mut store, &planned).unwrap();
    let prd = store
        .read(|tx| tx.prd("big.prd.md"))
        .unwrap()
        .expect("stored");
    let tasks = store.read(|tx| tx.tasks(prd.id)).unwrap();
    let run = store.write(|tx| tx.start_run(prd.id, "bench")).unwrap();
    store
        .write(|tx| {
            for task in &tasks {
                for (n, stage) in ["red", "green", "verify", "refactor", "merge"].iter().enumerate() {
                    tx.insert_attempt(&NewAttempt {
                        run_id: run,
                        task_id: task.id,
                        stage: stage.to_string(),
                        attempt: 1,
                        worker: "w1".into(),
                        started_at_ms: 1_700_000_000_000 + n as i64 * 1000,
                        finished_at_ms: Some(1_700_000_000_500 + n as i64 * 1000),
                        exit_code: Some(0),
                        test_summary: Some(json!({ "passed": 3, "failed": 0, "skipped": 0, "errored": 0, "problems": 0, "failures": [] })),
                        failure_kind: None,
                        diff_stats: Some(json!({ "added": 1 })),
                        evidence: Some("3 passed".into()),
                        usage: None,
                        transcript: None,
                    })?;
                    tx.append_event(
                        "stage.attempt",
                        Some(prd.id),
                        Some(&task.key),
                        json!({ "run": run.0, "stage": stage, "attempt": 1, "worker": "w1",
                                "passed": true, "failure_kind": null, "evidence": "3 passed",
                                "reasons": [], "usage": null }),
                    )?;
                }
            }
            Ok::<_, tdd_engine::store::StoreError>(())
        })
        .unwrap();
    root
}

/// The daemon alone: serves the registry on a free port, prints the address.
fn serve(registry: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        println!("{addr}");
        let state = tdd_http::AppState::new(TOKEN.into(), Registry::at(registry), addr);
        axum::serve(listener, tdd_http::router(state))
            .await
            .unwrap();
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        return serve(&args[2]);
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let base = std::env::temp_dir().join(format!("tdd-daemon-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);

    // 1. Snapshot of 1,000 tasks (the planner groups a requirement's
    // criteria into tasks of up to three or so: 250 × 10 make about 1,000).
    let started = Instant::now();
    let big = project(&base.join("big"), 250, 10);
    let reader = view::open(&big).unwrap().unwrap();
    let count = view::snapshot(&reader, &big).unwrap().tasks.len();
    println!(
        "built a project of {count} tasks, {} attempts, {} events in {:.1} s",
        count * 5,
        reader.last_seq().unwrap(),
        started.elapsed().as_secs_f64()
    );
    let mut ms = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let snapshot = view::snapshot(&reader, &big).unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(snapshot.tasks.len(), count);
    }
    report(&format!("snapshot of {count} tasks"), ms);
    let mut ms = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let events = view::events_after(&reader, 0, view::MAX_EVENTS).unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(!events.is_empty());
    }
    report("events after 0 (one page of 5,000)", ms);

    // 2 and 3: the daemon, a child process, with 10 registered projects.
    let registry = Registry::at(base.join("projects.json"));
    let mut ids = Vec::new();
    for n in 0..10 {
        let root = project(&base.join(format!("p{n}")), 5, 4);
        ids.push(registry.add(&root).unwrap().id);
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--serve")
        .arg(registry.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut port_line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut port_line,
    )
    .unwrap();
    let addr: std::net::SocketAddr = port_line.trim().parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut streams = Vec::new();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let get = |path: String| {
            client
                .get(format!("http://{addr}{path}"))
                .bearer_auth(TOKEN)
                .send()
        };
        let list = get("/api/v1/projects".into()).await.unwrap();
        assert!(list.status().is_success());
        for id in &ids {
            let r = get(format!("/api/v1/projects/{id}/snapshot"))
                .await
                .unwrap();
            assert!(r.status().is_success());
            let _ = r.bytes().await.unwrap();
            // A live SSE client on every project, as ten open panels would be.
            let stream = client
                .get(format!("http://{addr}/api/v1/projects/{id}/events"))
                .bearer_auth(TOKEN)
                .header("accept", "text/event-stream")
                .send()
                .await
                .unwrap();
            streams.push(stream);
        }

        for (label, gap) in [
            ("one every 10 ms", Some(Duration::from_millis(10))),
            ("at full speed", None),
        ] {
            let root = base.join("p0");
            let id = ids[0].clone();
            let sent: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
            let start_seq = view::open(&root).unwrap().unwrap().last_seq().unwrap();
            let mut stream = client
                .get(format!("http://{addr}/api/v1/projects/{id}/events"))
                .bearer_auth(TOKEN)
                .header("accept", "text/event-stream")
                .header("last-event-id", start_seq.to_string())
                .send()
                .await
                .unwrap();
            let writer_sent = sent.clone();
            let writer_root = root.clone();
            let writer = std::thread::spawn(move || {
                let mut store = Store::open(planning::database_path(&writer_root)).unwrap();
                for n in 0..500 {
                    let seq = store
                        .write(|tx| tx.append_event("bench.tick", None, None, json!({ "n": n })))
                        .unwrap();
                    writer_sent.lock().unwrap().insert(seq, Instant::now());
                    if let Some(gap) = gap {
                        std::thread::sleep(gap);
                    }
                }
            });
            let mut latencies = Vec::new();
            let mut buffer = String::new();
            while latencies.len() < 500 {
                let chunk = stream.chunk().await.unwrap().unwrap();
                let now = Instant::now();
                buffer.push_str(std::str::from_utf8(&chunk).unwrap());
                while let Some(end) = buffer.find("\n\n") {
                    let frame: String = buffer.drain(..end + 2).collect();
                    if let Some(id) = frame.lines().find_map(|l| l.strip_prefix("id:")) {
                        let seq: i64 = id.trim().parse().unwrap();
                        // The writer notes the time just after its commit;
                        // wait for the note if the stream was faster.
                        let at = loop {
                            if let Some(at) = sent.lock().unwrap().get(&seq).copied() {
                                break at;
                            }
                            tokio::task::yield_now().await;
                        };
                        latencies.push(now.saturating_duration_since(at).as_secs_f64() * 1000.0);
                    }
                }
            }
            writer.join().unwrap();
            report(&format!("store commit to SSE client, {label}"), latencies);
        }
    });
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let field = |name: &str| -> f64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    println!(
        "daemon resident memory with 10 registered projects and 10 live SSE clients: {:.1} MiB (peak {:.1} MiB)",
        field("VmRSS:"),
        field("VmHWM:")
    );
    drop(streams);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&base);
}
