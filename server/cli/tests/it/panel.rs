//! The panel protocol from outside, on a run started in a terminal: the
//! real binary runs a PRD (`run`), the real daemon (`serve`) and language
//! servers (`lsp`) connect while it works. Clients that connect late get a
//! snapshot that agrees with `export`, then live events; clients that drop
//! and come back (SSE `Last-Event-ID`, LSP `tdd/events { after }`) end with
//! exactly the log of one that stayed: no gap, no duplicate.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{
    StdioLsp, fresh_dir, git, http_get, path_with_venv, python_project, serve, sse, write,
};
use serde_json::{Value, json};
use tdd_test_support::succeeded;

/// Two independent requirements: add and negate.
const PRD: &str = tdd_test_support::ADD_NEGATE_PRD;

/// Every stage waits, so clients have time to connect and drop mid-run.
const SCRIPT: &str = r#"
[[step]]
task = "REQ-1/AC-1.1"
stage = "red"
pause_ms = 600
write = { "tests/test_add.py" = "from add import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n" }

[[step]]
task = "REQ-1/AC-1.1"
stage = "green"
pause_ms = 600
write = { "src/add.py" = "def add(a, b):\n    return a + b\n" }

[[step]]
task = "REQ-2/AC-2.1"
stage = "red"
pause_ms = 600
write = { "tests/test_negate.py" = "from negate import negate\n\n\ndef test_negate():\n    assert negate(7) == -7\n" }

[[step]]
task = "REQ-2/AC-2.1"
stage = "green"
pause_ms = 600
write = { "src/negate.py" = "def negate(x):\n    return -x\n" }
"#;

struct Env {
    root: PathBuf,
    config: PathBuf,
    data: PathBuf,
}

impl Env {
    fn tdd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tdd-orchestrator"));
        cmd.args(args)
            .current_dir(&self.root)
            .env("PATH", path_with_venv())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("XDG_CONFIG_HOME", &self.config)
            .env("XDG_DATA_HOME", &self.data);
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.tdd(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn project(name: &str) -> Env {
    let dir = fresh_dir(&format!("panel-{name}"));
    let root = dir.join("calc");
    std::fs::create_dir_all(&root).unwrap();
    python_project(&root, &[("calc.prd.md", PRD)]);
    let env = Env {
        root,
        config: dir.join("config"),
        data: dir.join("data"),
    };
    env.ok(&["init", "--language", "python"]);
    git(&env.root, &["add", "-A"]);
    git(&env.root, &["commit", "-q", "-m", "init"]);
    write(&env.root, "script.toml", SCRIPT);
    env.ok(&["decompose", "calc.prd.md"]);
    env
}

/// The store's whole log, as the daemon and the language server number it.
fn log_seqs(root: &Path) -> Vec<i64> {
    let conn = rusqlite::Connection::open(root.join(".tdd/orchestrator.db")).unwrap();
    conn.prepare("SELECT seq FROM events ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn panel_capabilities() -> Value {
    json!({ "window": { "workDoneProgress": true }, "experimental": { "tddPanel": true } })
}

/// Pushed `tdd/event`s until one satisfies `stop`.
fn pushed(client: &mut StdioLsp, stop: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let event = client.wait_for(|m| m["method"] == "tdd/event")["params"].clone();
        let done = stop(&event);
        events.push(event);
        if done {
            return events;
        }
    }
}

fn seqs_of(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

/// Over real stdio, one server binary, one run: the client that opted in to
/// the panel protocol gets the run's `tdd/event`s, the one that did not
/// (Helix, say) gets no `tdd/` notification at all.
#[test]
fn only_a_client_that_opted_in_gets_tdd_notifications() {
    let env = project("opt-in");
    let mut panel = StdioLsp::start(&env.root, panel_capabilities(), Value::Null);
    let plain_capabilities = json!({ "window": { "workDoneProgress": true } });
    let mut plain = StdioLsp::start(&env.root, plain_capabilities, Value::Null);
    env.ok(&[
        "run",
        "calc.prd.md",
        "--script",
        "script.toml",
        "--workers",
        "1",
        "--plain",
    ]);
    let heard = pushed(&mut panel, |e| e["kind"] == "run.finished");
    assert!(heard.len() > 5, "{heard:?}");
    // A round trip after the run: whatever the server sent before it has
    // been read.
    plain.request(
        "workspace/executeCommand",
        json!({ "command": "tdd.status" }),
    );
    let custom: Vec<&Value> = plain
        .received()
        .iter()
        .filter(|m| m["method"].as_str().is_some_and(|m| m.starts_with("tdd/")))
        .collect();
    assert!(custom.is_empty(), "{custom:?}");
    panel.stop();
    plain.stop();
}

#[test]
fn clients_that_connect_late_or_reconnect_see_the_terminal_runs_whole_log() {
    let env = project("late");
    let (mut daemon, addr, token) = serve({
        let mut command = env.tdd(&["serve", "--port", "0"]);
        command.stderr(Stdio::null());
        command
    });
    let (status, projects) = http_get(&addr, &token, "/api/v1/projects");
    assert_eq!(status, 200, "{projects}");
    let id = projects
        .as_array()
        .unwrap()
        .iter()
        .find(|p| Path::new(p["path"].as_str().unwrap()) == env.root.canonicalize().unwrap())
        .unwrap_or_else(|| panic!("serve registered the project it runs in: {projects}"))["id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut run = env
        .tdd(&[
            "run",
            "calc.prd.md",
            "--script",
            "script.toml",
            "--workers",
            "1",
            "--plain",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Connect once the run is under way.
    let started = log_seqs(&env.root).len();
    wait_until("the run's first task starts", || {
        let conn = rusqlite::Connection::open(env.root.join(".tdd/orchestrator.db")).unwrap();
        conn.query_row(
            "SELECT count(*) FROM events WHERE kind = 'task.started'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
            > 0
    });
    assert!(log_seqs(&env.root).len() > started);

    // Two LSP panels: `stays` keeps its connection, `drops` leaves mid-run.
    let mut stays = StdioLsp::start(&env.root, panel_capabilities(), Value::Null);
    let snapshot = stays.request("tdd/snapshot", Value::Null);
    let from = snapshot["last_seq"].as_i64().unwrap();
    assert!(from > 0, "{snapshot}");
    let mut drops = StdioLsp::start(&env.root, panel_capabilities(), Value::Null);
    let drops_from = drops.request("tdd/snapshot", Value::Null)["last_seq"]
        .as_i64()
        .unwrap();

    // An SSE client reads the log from the start, drops after a merge, and
    // comes back with Last-Event-ID.
    let first_part = seqs_of(&sse(&addr, &token, &id, None, |e| {
        e["kind"] == "task.merged"
    }));
    let dropped_at = *first_part.last().unwrap();

    // The dropping panel takes what it is pushed until a stage is judged, then goes.
    let before_drop = pushed(&mut drops, |e| e["kind"] == "stage.attempt");
    drops.stop();

    let second_part = seqs_of(&sse(&addr, &token, &id, Some(dropped_at), |e| {
        e["kind"] == "run.finished"
    }));
    let mut sse_seqs = first_part.clone();
    sse_seqs.extend(&second_part);

    let all_pushed = pushed(&mut stays, |e| e["kind"] == "run.finished");
    assert!(run.wait().unwrap().success());
    let log = log_seqs(&env.root);
    let run_end = *log.last().unwrap();

    // The panel that stayed: every entry after its snapshot, once, in order
    // (an entry pushed before the snapshot was read is one it already has:
    // a client ignores `seq <= last_seq`, as the protocol says).
    let pushed_seqs = seqs_of(&all_pushed);
    assert!(
        pushed_seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "{pushed_seqs:?}"
    );
    let stayed: Vec<i64> = pushed_seqs.into_iter().filter(|s| *s > from).collect();
    let expected: Vec<i64> = log
        .iter()
        .copied()
        .filter(|s| *s > from && *s <= run_end)
        .collect();
    assert_eq!(stayed, expected);

    // The panel that dropped, back as a new client, asks for what it missed.
    let mut back = StdioLsp::start(&env.root, panel_capabilities(), Value::Null);
    let last_seen = before_drop.last().unwrap()["seq"].as_i64().unwrap();
    let missed = back.request("tdd/events", json!({ "after": last_seen }));
    let mut rejoined: Vec<i64> = seqs_of(&before_drop)
        .into_iter()
        .filter(|s| *s > drops_from)
        .collect();
    rejoined.extend(seqs_of(missed["events"].as_array().unwrap()));
    let expected_rejoined: Vec<i64> = log.iter().copied().filter(|s| *s > drops_from).collect();
    assert_eq!(rejoined, expected_rejoined);
    // And the full entries agree with what the staying panel was pushed.
    let tail: Vec<&Value> = missed["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["seq"].as_i64().unwrap() > from)
        .collect();
    for entry in tail {
        assert!(all_pushed.contains(entry), "{entry}");
    }

    // SSE: dropped and resumed, the same list as the whole log.
    assert_eq!(sse_seqs, log);

    // The snapshot after the run agrees with `export`.
    let snapshot = back.request("tdd/snapshot", Value::Null);
    let export: Value = serde_json::from_str(&env.ok(&["export", "--format", "json"])).unwrap();
    let exported: Vec<(String, String, u64)> = export["prds"][0]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap().into(),
                t["status"].as_str().unwrap().into(),
                t["attempts"].as_u64().unwrap(),
            )
        })
        .collect();
    let snapped: Vec<(String, String, u64)> = snapshot["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap().into(),
                t["state"].as_str().unwrap().into(),
                t["attempts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(snapped, exported);
    assert!(
        snapped
            .iter()
            .all(|(_, state, n)| state == "done" && *n >= 5),
        "{snapped:?}"
    );
    let breakers = |list: &Value| -> Vec<(String, String, String)> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["scope"].as_str().unwrap().into(),
                    b["name"].as_str().unwrap().into(),
                    b["state"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    assert_eq!(
        breakers(&snapshot["breakers"]),
        breakers(&export["breakers"])
    );
    let (status, over_http) = http_get(&addr, &token, &format!("/api/v1/projects/{id}/snapshot"));
    assert_eq!(status, 200);
    assert_eq!(over_http["tasks"], snapshot["tasks"]);

    stays.stop();
    back.stop();
    let _ = daemon.kill();
    let _ = daemon.wait();
}

/// What a webhook receiver got: one request's headers and body.
#[derive(Clone, Debug)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP receiver on 127.0.0.1 that answers 500 to its first `failures`
/// requests and 200 after; returns its URL and what it received.
fn receiver(failures: usize) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Received>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/hook?token=do-not-store-me",
        listener.local_addr().unwrap()
    );
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = got.clone();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (seen, answered) = (seen.clone(), answered.clone());
            // A connection of its own thread: one opened and abandoned (a
            // killed sender's) must not stall the others.
            std::thread::spawn(move || {
                stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                let mut reader = BufReader::new(stream);
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                    return;
                }
                let mut headers = Vec::new();
                let mut line = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.trim_end().split_once(':') {
                        headers.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                let length: usize = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let n = answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                seen.lock().unwrap().push(Received {
                    headers,
                    body: String::from_utf8(body).unwrap(),
                });
                let status = if n < failures {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let mut stream = reader.into_inner();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            });
        }
    });
    (url, got)
}

/// Slower stages, so a run is still going when its first deliveries land.
fn slow_down(env: &Env) {
    let script = SCRIPT.replace("pause_ms = 600", "pause_ms = 2000");
    write(&env.root, "script.toml", &script);
}

fn add_webhook(env: &Env, url: &str) {
    let path = env.root.join(".tdd/config.toml");
    let mut config = std::fs::read_to_string(&path).unwrap();
    config.push_str(&format!(
        "\n[[webhooks]]\nurl = \"{url}\"\nsecret_env = \"TDD_TEST_HOOK_SECRET\"\n"
    ));
    std::fs::write(path, config).unwrap();
}

const SECRET: &str = "s3cret-for-the-hook";

fn verify(body: &str, signature: &str) -> bool {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    signature == format!("sha256={hex}")
}

#[test]
fn webhooks_deliver_every_event_of_a_killed_and_resumed_run_signed() {
    let env = project("hooks");
    let (url, got) = receiver(3);
    add_webhook(&env, &url);
    slow_down(&env);
    let before = log_seqs(&env.root).last().copied().unwrap_or(0);
    let args = [
        "run",
        "calc.prd.md",
        "--script",
        "script.toml",
        "--workers",
        "1",
        "--plain",
    ];
    let mut run = env
        .tdd(&args)
        .env("TDD_TEST_HOOK_SECRET", SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once the receiver has refused three and taken a few.
    wait_until("deliveries under way", || got.lock().unwrap().len() >= 6);
    assert!(
        run.try_wait().unwrap().is_none(),
        "the run ended before the kill"
    );
    run.kill().unwrap();
    run.wait().unwrap();
    let resumed = env
        .tdd(&[
            "resume",
            "calc.prd.md",
            "--script",
            "script.toml",
            "--workers",
            "1",
            "--plain",
        ])
        .env("TDD_TEST_HOOK_SECRET", SECRET)
        .output()
        .unwrap();
    succeeded(&resumed, "resumed");

    let received = got.lock().unwrap().clone();
    let mut delivered = std::collections::BTreeSet::new();
    for r in &received {
        let signature = r
            .header("x-tdd-signature-256")
            .unwrap_or_else(|| panic!("unsigned: {r:?}"));
        assert!(verify(&r.body, signature), "bad signature on {}", r.body);
        let entry: Value = serde_json::from_str(&r.body).unwrap();
        let seq = entry["seq"].as_i64().unwrap();
        assert_eq!(r.header("x-tdd-event"), entry["kind"].as_str());
        let hook = r.header("x-tdd-delivery").unwrap();
        assert!(hook.ends_with(&format!("-{seq}")), "{hook}");
        delivered.insert(seq);
    }
    let expected: Vec<i64> = log_seqs(&env.root)
        .into_iter()
        .filter(|s| *s > before)
        .collect();
    let missing: Vec<&i64> = expected.iter().filter(|s| !delivered.contains(s)).collect();
    assert!(
        missing.is_empty(),
        "never delivered: {missing:?} of {expected:?}"
    );
    assert!(
        received.len() >= expected.len() + 3,
        "the three refusals were retried"
    );

    // `webhooks log` shows the refusals and the deliveries, never the URL's token.
    let log = env.ok(&["webhooks", "log", "--limit", "1000"]);
    assert!(log.contains("failed: the receiver answered 500"), "{log}");
    assert!(log.contains("delivered (200)"), "{log}");
    assert!(!log.contains("do-not-store-me"), "{log}");
    let db = std::fs::read(env.root.join(".tdd/orchestrator.db")).unwrap();
    assert!(
        !String::from_utf8_lossy(&db).contains("do-not-store-me"),
        "the receiver's URL token is in the store"
    );
}

#[test]
fn a_receiver_that_never_answers_does_not_hold_up_the_run() {
    let timed = |env: &Env| {
        let start = Instant::now();
        let out = env
            .tdd(&[
                "run",
                "calc.prd.md",
                "--script",
                "script.toml",
                "--workers",
                "1",
                "--plain",
            ])
            .env("TDD_TEST_HOOK_SECRET", SECRET)
            .output()
            .unwrap();
        succeeded(&out, "out");
        start.elapsed()
    };
    let plain = project("nohook");
    let without = timed(&plain);
    // Connections are queued by the kernel and never answered.
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = project("blackhole");
    add_webhook(
        &silent,
        &format!("http://{}/hook", black_hole.local_addr().unwrap()),
    );
    let with = timed(&silent);
    println!("makespan without a webhook {without:?}, with one that never answers {with:?}");
    // One attempt waits 10 s for an answer: had the run waited for it, it
    // would be at least that much longer.
    assert!(
        with < without + Duration::from_secs(5),
        "without {without:?}, with {with:?}"
    );
    drop(black_hole);
}
