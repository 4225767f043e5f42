//! Performance benchmark for the PRD analyser and the language server.
//!
//! Run it with `scripts/bench`, or by hand after a release build:
//!
//! ```text
//! cargo run --release -p tdd-orchestrator --example bench -- --bin target/release/tdd-orchestrator
//! ```
//!
//! What it measures, on a generated 2,000-line PRD with 120 requirements:
//! - **diagnostics**: `tdd_core::analysis::analyze` called in-process (300 runs
//!   after 20 warm-ups): the server-side cost of validating the whole file.
//! - **start**: spawn `tdd-orchestrator lsp --stdio` until its `initialize`
//!   response arrives (20 runs): what an editor waits for on first open.
//! - **round trip**: an incremental `didChange` sent over stdio until the
//!   `publishDiagnostics` for that version arrives (1,000 edits, one at a time):
//!   the latency a user sees while typing, including JSON-RPC and pipe I/O.
//! - **RSS**: VmRSS and VmHWM (peak) of the server after those edits.
//!
//! It prints numbers and never fails on timing. It exits 1 only when the
//! server misbehaves: a crash, a missing or malformed reply (10 s timeout on
//! every wait), or publishDiagnostics versions out of order.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tdd_core::analysis::{Options, analyze};

type Res<T> = Result<T, String>;

const TIMEOUT: Duration = Duration::from_secs(10);
const URI: &str = "file:///tmp/bench/bench.prd.md";
const REQUIREMENTS: usize = 120;
const EDITED: usize = 61; // The requirement whose first criterion the edits touch.
const EDITS: usize = 1_000;
const VAGUE: &str = "fast and user-friendly";

fn main() {
    if let Err(err) = run() {
        eprintln!("bench: FAILED: {err}");
        std::process::exit(1);
    }
}

fn run() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let bin = match args.iter().position(|a| a == "--bin") {
        Some(i) => args.get(i + 1).ok_or("--bin needs a path")?.clone(),
        None => "target/release/tdd-orchestrator".to_string(),
    };
    if !std::path::Path::new(&bin).is_file() {
        return Err(format!("no binary `{bin}`; pass --bin <path>"));
    }

    // 1. The document.
    let (text, (line, col)) = generate_prd();
    let kib = text.len() as f64 / 1024.0;
    println!("PRD: {} lines, {kib:.1} KiB", text.lines().count());

    // 2. In-process analysis.
    let options = Options::default();
    let diagnostics = analyze("bench.prd.md", &text, &options).diagnostics;
    let codes: BTreeSet<&str> = diagnostics.iter().map(|d| d.code.as_str()).collect();
    let codes = Vec::from_iter(codes).join(", ");
    println!("in-process diagnostics: {} ({codes})", diagnostics.len());
    (0..20).for_each(|_| drop(analyze("bench.prd.md", &text, &options))); // Warm-up.
    let analysis = measure("diagnostics (analyze, in-process)", 300, || {
        let started = Instant::now();
        std::hint::black_box(analyze("bench.prd.md", &text, &options));
        Ok(started.elapsed())
    })?;

    // 3. Spawn → initialize response.
    let start = measure("start (spawn → initialize result)", 20, || {
        let started = Instant::now();
        let mut server = Server::spawn(&bin)?;
        server.initialize()?;
        let took = started.elapsed();
        server.shutdown()?;
        Ok(took)
    })?;

    // 4. didChange → publishDiagnostics, and 5. memory afterwards.
    let mut server = Server::spawn(&bin)?;
    server.initialize()?;
    server.notify("initialized", json!({}))?;
    let doc = json!({ "uri": URI, "languageId": "markdown", "version": 1, "text": text });
    server.notify("textDocument/didOpen", json!({ "textDocument": doc }))?;
    match server.wait_diagnostics(1)? {
        0 => return Err("no diagnostics published for a PRD that has problems".into()),
        n => println!("server diagnostics after didOpen: {n}"),
    }
    let mut version = 1;
    let round_trip = measure("round trip (didChange → diagnostics)", EDITS, || {
        version += 1;
        // Even versions insert an `x` inside a criterion, odd ones delete it again.
        let (end, new_text) = [(col, "x"), (col + 1, "")][version as usize % 2];
        let at = |character| json!({ "line": line, "character": character });
        let change = json!({ "range": { "start": at(col), "end": at(end) }, "text": new_text });
        let document = json!({ "uri": URI, "version": version });
        let params = json!({ "textDocument": document, "contentChanges": [change] });
        let started = Instant::now();
        server.notify("textDocument/didChange", params)?;
        server.wait_diagnostics(version)?;
        Ok(started.elapsed())
    })?;
    if server.last_version != Some(version) {
        let last = server.last_version;
        return Err(format!("last published {last:?}, sent {version}"));
    }
    println!("publishDiagnostics versions: monotonic, last = {version} = last sent");
    let (rss, hwm) = server.memory_mib()?;
    println!("server memory after {EDITS} edits: VmRSS {rss:.1} MiB, VmHWM {hwm:.1} MiB");
    server.shutdown()?;

    // 6. Summary against the targets (informational only).
    let p95 = |sorted: &[Duration]| percentile_ms(sorted, 0.95);
    let rows = [
        ("diagnostics p95 (ms)", p95(&analysis), 10.0),
        ("round trip p95 (ms)", p95(&round_trip), 20.0),
        ("start p95 (ms)", p95(&start), 20.0),
        ("RSS after edits (MiB)", rss, 20.0),
    ];
    println!("\nmetric                    measured  target  result");
    for (name, value, target) in rows {
        let verdict = if value < target { "met" } else { "NOT met" };
        let target = format!("< {target}");
        println!("{name:<24} {value:>10.2} {target:>7}  {verdict}");
    }
    Ok(())
}

/// A realistic PRD, and the (line, UTF-16 column) in a criterion where edits go.
/// Deliberate problems: vague words (REQ-17, -57, -97, NFR-7), an unknown
/// dependency (REQ-77), a duplicate id (REQ-119) and an unmeasurable NFR-7.
fn generate_prd() -> (String, (usize, usize)) {
    let nouns: Vec<&str> = "member|book|loan|reservation|fine|branch|catalogue entry|notice\
        |payment|shelf|reading list|event booking"
        .split('|')
        .collect();
    let verbs = ["create", "update", "cancel", "search", "export", "archive"];
    let roles = ["librarian", "member", "branch manager", "auditor"];
    let areas = ["members", "loans", "catalogue", "billing", "reports"];
    let mut out = String::from(
        "---
id: PRD-BENCH
title: Library platform
language: python
---

# Library platform

A lending library network, generated by the tdd-orchestrator benchmark.

## Requirements
",
    );
    for i in 1..=REQUIREMENTS {
        let (noun, verb) = (nouns[i % nouns.len()], verbs[i % verbs.len()]);
        let (role, area) = (roles[i % roles.len()], areas[i % areas.len()]);
        let title = verb[..1].to_ascii_uppercase() + &verb[1..];
        let slug = format!("{verb}_{}", noun.replace(' ', "_"));
        let id = if i == REQUIREMENTS { i - 1 } else { i };
        let quality = if i % 40 == 17 { VAGUE } else { "auditable" };
        let note = format!("\nEach change to a {noun} is written to the {area} audit log.\n");
        let note = if i % 2 == 1 { &note[..] } else { "" };
        let depends = match i {
            1 => String::new(),
            77 => "Depends on: REQ-76, REQ-999\n".to_string(),
            REQUIREMENTS => format!("Depends on: REQ-{}\n", i / 2),
            _ => format!("Depends on: REQ-{}, REQ-{}\n", i - 1, i / 2),
        };
        let ac4 = format!("- AC-{i}.4: WHILE {area} is offline THE SYSTEM SHALL queue it.\n");
        let ac4 = if i % 2 == 0 { &ac4[..] } else { "" };
        let _ = write!(
            out,
            "
### REQ-{id} {title} a {noun} ({i})

As a {role}, I want to {verb} a {noun} so that the {area} records stay {quality}.
{note}
Module: src/library/{area}/{slug}_{i}.py
Tests: tests/{area}/test_{slug}_{i}.py
{depends}
Acceptance criteria:
- AC-{i}.1: WHEN a {role} submits a valid {noun} THE SYSTEM SHALL {verb} it within 300 ms.
- AC-{i}.2: IF the {noun} does not exist THEN THE SYSTEM SHALL reject it with error `{slug}`.
- AC-{i}.3: GIVEN a {noun} owned by another branch
  WHEN a {role} tries to {verb} it
  THEN the request is refused and the {noun} is unchanged.
{ac4}"
        );
    }
    out.push_str("\n## Non-functional requirements\n\n");
    let mut nfr = 0;
    while nfr < 10 || out.lines().count() < 2_000 {
        nfr += 1;
        let target = match nfr {
            7 => "be scalable and easy to extend".to_string(),
            _ => format!("answer within {} ms at p95", 50 * (1 + nfr % 8)),
        };
        let _ = writeln!(out, "- NFR-{nfr}: Search SHALL {target}.");
    }
    // Edit inside the role word of AC-61.1, e.g. `l|ibrarian`.
    let prefix = format!("- AC-{EDITED}.1: WHEN a ");
    let line = out.lines().position(|l| l.starts_with(&prefix));
    (out, (line.unwrap_or(0), prefix.len() + 1))
}

/// One language server on stdio; a reader thread sends the parsed messages to a channel.
struct Server {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Res<Value>>,
    next_id: i64,
    last_version: Option<i64>,
}

impl Server {
    fn spawn(bin: &str) -> Res<Server> {
        let mut child = Command::new(bin)
            .args(["lsp", "--stdio"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start `{bin}`: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let (tx, messages) = channel();
        std::thread::spawn(move || {
            // Stops after forwarding the first error (EOF included) or when nobody listens.
            while let Ok(message) = read_frame(&mut stdout).map_err(|e| tx.send(Err(e))) {
                if tx.send(Ok(message)).is_err() {
                    break;
                }
            }
        });
        Ok(Server {
            child,
            stdin,
            messages,
            next_id: 0,
            last_version: None,
        })
    }

    fn send(&mut self, message: Value) -> Res<()> {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len())
            .and_then(|()| self.stdin.flush())
            .map_err(|e| format!("cannot write to the server: {e}"))
    }

    fn notify(&mut self, method: &str, params: Value) -> Res<()> {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }))
    }

    fn request(&mut self, method: &str, params: Value) -> Res<Value> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))?;
        let what = format!("the `{method}` response");
        let reply = self.wait(&what, |m| m.get("method").is_none() && m["id"] == id)?;
        match reply.get("error") {
            Some(err) => Err(format!("`{method}` failed: {err}")),
            None => Ok(reply["result"].clone()),
        }
    }

    /// The next message `wanted` accepts. Server requests met on the way are
    /// answered, and every publishDiagnostics is checked for version order.
    fn wait(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Res<Value> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = match self.messages.recv_timeout(left) {
                Ok(message) => message?,
                Err(RecvTimeoutError::Timeout) => return Err(format!("no {what} in {TIMEOUT:?}")),
                Err(RecvTimeoutError::Disconnected) => return Err(format!("no {what}: EOF")),
            };
            let params = &message["params"];
            if message["method"] == "textDocument/publishDiagnostics" && params["uri"] == URI {
                let version = params["version"].as_i64().ok_or("no version")?;
                if let Some(last) = self.last_version.filter(|&last| version < last) {
                    return Err(format!("publishDiagnostics version {version} after {last}"));
                }
                self.last_version = Some(version);
            }
            if let (Some(id), Some(method)) = (message.get("id"), message["method"].as_str()) {
                // A server → client request (workspace/configuration, …): answer with nulls.
                let items = params["items"].as_array().map_or(0, Vec::len);
                let result = match method {
                    "workspace/configuration" => json!(vec![Value::Null; items]),
                    _ => Value::Null,
                };
                self.send(json!({ "jsonrpc": "2.0", "id": id, "result": result }))?;
            } else if wanted(&message) {
                return Ok(message);
            }
        }
    }

    fn initialize(&mut self) -> Res<Value> {
        let capabilities = json!({ "workspace": { "configuration": true } });
        let params = json!({ "processId": std::process::id(), "capabilities": capabilities });
        let result = self.request("initialize", params)?;
        let capabilities = &result["capabilities"];
        if capabilities["textDocumentSync"]["change"] != 2 {
            return Err(format!("initialize: no incremental sync in {capabilities}"));
        }
        Ok(result)
    }

    /// Waits for the diagnostics of `version`; returns how many there are.
    fn wait_diagnostics(&mut self, version: i64) -> Res<usize> {
        let what = format!("publishDiagnostics for version {version}");
        let message = self.wait(&what, |m| {
            m["method"] == "textDocument/publishDiagnostics" && m["params"]["version"] == version
        })?;
        let diagnostics = message["params"]["diagnostics"].as_array();
        Ok(diagnostics.ok_or("diagnostics is not an array")?.len())
    }

    /// (VmRSS, VmHWM) in MiB, from /proc/<pid>/status.
    fn memory_mib(&self) -> Res<(f64, f64)> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        let field = |name: &str| -> Res<f64> {
            let line = status.lines().find(|l| l.starts_with(name));
            let kib = line.and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok());
            Ok(kib.ok_or(format!("no number for {name} in {path}"))? / 1024.0)
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// shutdown + exit, then reap the process (killed if it does not exit in time).
    fn shutdown(mut self) -> Res<()> {
        self.request("shutdown", Value::Null)?;
        self.notify("exit", Value::Null)?;
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            match self.child.try_wait().map_err(|e| e.to_string())? {
                Some(status) if status.success() => return Ok(()),
                Some(status) => return Err(format!("the server exited with {status}")),
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        Err("the server did not exit after `exit`".into()) // Drop kills it.
    }
}

/// On an error path, leave no server behind (a no-op once it has been reaped).
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One Content-Length framed JSON-RPC message.
fn read_frame(reader: &mut impl BufRead) -> Res<Value> {
    let mut length = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).map_err(|e| e.to_string())? == 0 {
            return Err("the server closed stdout".into());
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some(value) = header.strip_prefix("Content-Length:") {
            length = Some(value.trim().parse::<usize>().map_err(|e| e.to_string())?);
        }
    }
    let mut body = vec![0; length.ok_or("a message without Content-Length")?];
    reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    serde_json::from_slice(&body).map_err(|e| format!("malformed JSON from the server: {e}"))
}

/// Runs `f` `runs` times, prints p50/p95/max of the durations it returns, and
/// returns them sorted.
fn measure(name: &str, runs: usize, mut f: impl FnMut() -> Res<Duration>) -> Res<Vec<Duration>> {
    let mut times = (0..runs).map(|_| f()).collect::<Res<Vec<_>>>()?;
    times.sort();
    let [p50, p95, max] = [0.5, 0.95, 1.0].map(|p| percentile_ms(&times, p));
    println!("{name}, {runs} runs: p50 {p50:.2} ms, p95 {p95:.2} ms, max {max:.2} ms");
    Ok(times)
}

/// Nearest-rank percentile of sorted samples, in milliseconds.
fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}
