//! Performance benchmark for the PRD analyser and the language server.
//!
//! Run it with `scripts/bench`, or by hand after a release build:
//!
//! ```text
//! cargo run --release -p tdd-orchestrator --example bench -- --bin target/release/tdd-orchestrator
//! ```
//!
//! What it measures, on a generated 2,000-line PRD with ~120 requirements:
//! - **diagnostics**: `tdd_core::analysis::analyze` called in-process (300 runs
//!   after 20 warm-ups): the server-side cost of validating the whole file.
//! - **start**: spawn `tdd-orchestrator lsp --stdio` until its `initialize`
//!   response arrives (20 runs): what an editor waits for on first open.
//! - **round trip**: an incremental `didChange` sent over stdio until the
//!   `publishDiagnostics` for that version arrives (1,000 edits, one at a time):
//!   the latency a user sees while typing, including JSON-RPC and I/O.
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
const EDITS: usize = 1_000;

fn main() {
    if let Err(err) = run() {
        eprintln!("bench: FAILED: {err}");
        std::process::exit(1);
    }
}

fn run() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let bin = match args.iter().position(|a| a == "--bin") {
        Some(i) => args
            .get(i + 1)
            .map(String::as_str)
            .ok_or("--bin needs a path")?,
        None => "target/release/tdd-orchestrator",
    };
    if !std::path::Path::new(&bin).is_file() {
        return Err(format!(
            "server binary `{bin}` not found: build it, or pass --bin <path>"
        ));
    }

    // 1. The document.
    let (text, edit_line) = generate_prd();
    println!(
        "PRD: {} lines, {:.1} KiB, {REQUIREMENTS} requirements",
        text.lines().count(),
        text.len() as f64 / 1024.0
    );

    // 2. In-process analysis.
    let options = Options::default();
    let diagnostics = analyze("bench.prd.md", &text, &options).diagnostics;
    let codes: BTreeSet<&str> = diagnostics.iter().map(|d| d.code.as_str()).collect();
    println!(
        "in-process diagnostics: {} ({})",
        diagnostics.len(),
        Vec::from_iter(codes).join(", ")
    );
    (0..20).for_each(|_| {
        drop(std::hint::black_box(analyze(
            "bench.prd.md",
            &text,
            &options,
        )))
    });
    let analysis = sample(300, || {
        let started = Instant::now();
        std::hint::black_box(analyze(
            "bench.prd.md",
            std::hint::black_box(&text),
            &options,
        ));
        Ok(started.elapsed())
    })?;
    print_stats("diagnostics (analyze, in-process, 300 runs)", &analysis);

    // 3. Spawn → initialize response.
    let start = sample(20, || {
        let started = Instant::now();
        let mut server = Server::spawn(&bin)?;
        server.initialize()?;
        let took = started.elapsed();
        server.shutdown()?;
        Ok(took)
    })?;
    print_stats("start (spawn → initialize result, 20 runs)", &start);

    // 4. didChange → publishDiagnostics, and 5. memory afterwards.
    let mut server = Server::spawn(&bin)?;
    server.initialize()?;
    server.notify("initialized", json!({}))?;
    let doc = json!({ "uri": URI, "languageId": "markdown", "version": 1, "text": text });
    server.notify("textDocument/didOpen", json!({ "textDocument": doc }))?;
    let opened = server.wait_diagnostics(1)?;
    if opened == 0 {
        return Err("the server published no diagnostics for a PRD that has problems".into());
    }
    println!("server diagnostics after didOpen: {opened}");
    let mut version = 1;
    let round_trip = sample(EDITS, || {
        version += 1;
        // Even versions insert an `x` inside a criterion, odd ones delete it again.
        let (line, col) = edit_line;
        let (end, new_text) = if version % 2 == 0 {
            (col, "x")
        } else {
            (col + 1, "")
        };
        let range = json!({ "start": { "line": line, "character": col }, "end": { "line": line, "character": end } });
        let change = json!({ "range": range, "text": new_text });
        let params = json!({ "textDocument": { "uri": URI, "version": version }, "contentChanges": [change] });
        let started = Instant::now();
        server.notify("textDocument/didChange", params)?;
        server.wait_diagnostics(version)?;
        Ok(started.elapsed())
    })?;
    print_stats(
        &format!("round trip (didChange → publishDiagnostics, {EDITS} edits)"),
        &round_trip,
    );
    if server.last_version != Some(version) {
        return Err(format!(
            "last published version {:?}, last sent {version}",
            server.last_version
        ));
    }
    println!("publishDiagnostics versions: monotonic, last = {version} = last sent");
    let (rss, hwm) = server.memory_mb()?;
    println!("server memory after {EDITS} edits: VmRSS {rss:.1} MiB, VmHWM {hwm:.1} MiB");
    server.shutdown()?;

    // 6. Summary against the targets.
    println!(
        "\n{:<32} {:>10} {:>10}  result",
        "metric", "measured", "target"
    );
    let rows = [
        (
            "diagnostics p95 (ms)",
            ms(percentile(&analysis, 0.95)),
            10.0,
        ),
        (
            "round trip p95 (ms)",
            ms(percentile(&round_trip, 0.95)),
            20.0,
        ),
        ("start p95 (ms)", ms(percentile(&start, 0.95)), 20.0),
        ("RSS after edits (MiB)", rss, 20.0),
    ];
    for (name, value, target) in rows {
        let verdict = if value < target { "met" } else { "NOT met" };
        println!(
            "{name:<32} {value:>10.2} {:>10}  {verdict}",
            format!("< {target}")
        );
    }
    Ok(())
}

/// A realistic PRD, plus the (line, UTF-16 column) inside a criterion where edits go.
/// It has a few deliberate problems: vague words, a duplicate id, an unknown
/// dependency and an unmeasurable NFR.
fn generate_prd() -> (String, (usize, usize)) {
    let nouns: Vec<&str> =
        "member|book|loan|reservation|fine|branch|catalogue entry|notice|payment|shelf|reading list|event booking"
            .split('|')
            .collect();
    let verbs: Vec<&str> =
        "create|update|cancel|search|export|archive|approve|transfer|renew|audit"
            .split('|')
            .collect();
    let roles = ["librarian", "member", "branch manager", "auditor"];
    let areas = ["members", "loans", "catalogue", "billing", "reports"];
    let mut out =
        String::from("---\nid: PRD-BENCH\ntitle: Library platform\nlanguage: python\n---\n\n");
    out.push_str(
        "# Library platform\n\nA lending library network: members, catalogue, loans, billing and\n",
    );
    out.push_str(
        "reporting across branches. Generated for the performance benchmark.\n\n## Requirements\n",
    );
    let mut edit_at = (0, 0);
    for i in 1..=REQUIREMENTS {
        let (noun, verb, role) = (
            nouns[i % nouns.len()],
            verbs[i % verbs.len()],
            roles[i % roles.len()],
        );
        let (area, slug) = (
            areas[i % areas.len()],
            format!("{verb}_{}", noun.replace(' ', "_")),
        );
        let id = if i == REQUIREMENTS { i - 1 } else { i }; // Problem: the last requirement reuses the id before it.
        let quality = if i % 40 == 17 {
            "fast and user-friendly"
        } else {
            "auditable"
        }; // Problem: vague words.
        let _ = writeln!(out, "\n### REQ-{id} {} a {noun} ({i})\n", capitalize(verb));
        let _ = writeln!(
            out,
            "As a {role}, I want to {verb} a {noun} so that the {area} records stay {quality}.\n"
        );
        if i % 2 == 1 {
            let _ = writeln!(
                out,
                "Each change to a {noun} is written to the {area} audit log with the {role}'s id.\n"
            );
        }
        let _ = writeln!(
            out,
            "Module: src/library/{area}/{slug}_{i}.py\nTests: tests/{area}/test_{slug}_{i}.py"
        );
        match i {
            1 => {}
            77 => out.push_str("Depends on: REQ-76, REQ-999\n"), // Problem: unknown dependency.
            REQUIREMENTS => _ = writeln!(out, "Depends on: REQ-{}", i / 2),
            _ => _ = writeln!(out, "Depends on: REQ-{}, REQ-{}", i - 1, i / 2),
        }
        out.push_str("\nAcceptance criteria:\n");
        if i == REQUIREMENTS / 2 + 1 {
            // Inside the role word of AC-61.1, e.g. `l|ibrarian`.
            edit_at = (
                out.lines().count(),
                format!("- AC-{i}.1: WHEN a ").len() + 1,
            );
        }
        let (ms, minutes) = (100 + i, 5 + i % 25);
        let _ = writeln!(
            out,
            "- AC-{i}.1: WHEN a {role} submits a valid {noun} THE SYSTEM SHALL {verb} it within {ms} ms."
        );
        let _ = writeln!(
            out,
            "- AC-{i}.2: IF the {noun} does not exist THEN THE SYSTEM SHALL reject it with error `{slug}`."
        );
        let _ = writeln!(
            out,
            "- AC-{i}.3: GIVEN a {noun} owned by another branch\n  WHEN a {role} tries to {verb} it"
        );
        let _ = writeln!(
            out,
            "  THEN the request is refused and the {noun} is unchanged."
        );
        if i % 2 == 0 {
            let _ = writeln!(
                out,
                "- AC-{i}.4: WHILE {area} is in maintenance THE SYSTEM SHALL queue requests for {minutes} min."
            );
        }
    }
    out.push_str("\n## Non-functional requirements\n\n");
    let mut nfr = 0;
    while nfr < 10 || out.lines().count() < 2_000 {
        nfr += 1;
        if nfr == 7 {
            out.push_str("- NFR-7: Search SHALL be scalable and easy to extend.\n"); // Problems: vague, unmeasurable.
        } else {
            let (verb, ms, members) = (
                capitalize(verbs[nfr % verbs.len()]),
                50 * (1 + nfr % 8),
                nfr % 9 + 1,
            );
            let _ = writeln!(
                out,
                "- NFR-{nfr}: {verb} SHALL complete within {ms} ms at p95 with {members},000 members."
            );
        }
    }
    (out, edit_at)
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

/// One language server on stdio, with a reader thread feeding parsed messages to a channel.
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
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start `{bin}`: {e}"))?;
        let (stdin, stdout) = (
            child.stdin.take().ok_or("no stdin")?,
            child.stdout.take().ok_or("no stdout")?,
        );
        let (tx, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let message = read_frame(&mut reader);
                let stop = message.is_err();
                if tx.send(message).is_err() || stop {
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
        let reply = self.wait(&format!("the `{method}` response"), |m| {
            m.get("method").is_none() && m["id"] == id
        })?;
        match reply.get("error") {
            Some(err) => Err(format!("`{method}` failed: {err}")),
            None => reply
                .get("result")
                .cloned()
                .ok_or_else(|| format!("`{method}` response without result")),
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
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("no {what} within {TIMEOUT:?}"));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("server gone, waiting for {what}"));
                }
            };
            if message["method"] == "textDocument/publishDiagnostics"
                && message["params"]["uri"] == URI
            {
                let version = message["params"]["version"]
                    .as_i64()
                    .ok_or("publishDiagnostics without a version")?;
                if self.last_version.is_some_and(|last| version < last) {
                    return Err(format!(
                        "publishDiagnostics version {version} after {:?}",
                        self.last_version
                    ));
                }
                self.last_version = Some(version);
            }
            if let (Some(id), Some(method)) = (message.get("id"), message["method"].as_str()) {
                // A server → client request (workspace/configuration, …): answer with nulls.
                let items = message["params"]["items"].as_array().map_or(0, Vec::len);
                let result = if method == "workspace/configuration" {
                    json!(vec![Value::Null; items])
                } else {
                    Value::Null
                };
                self.send(json!({ "jsonrpc": "2.0", "id": id, "result": result }))?;
                continue;
            }
            if wanted(&message) {
                return Ok(message);
            }
        }
    }

    fn initialize(&mut self) -> Res<Value> {
        let capabilities = json!({ "workspace": { "configuration": true } });
        let params = json!({ "processId": std::process::id(), "rootUri": null, "capabilities": capabilities });
        let result = self.request("initialize", params)?;
        if result["capabilities"]["textDocumentSync"]["change"] != 2 {
            return Err(format!(
                "initialize: expected incremental sync (change = 2), got {}",
                result["capabilities"]
            ));
        }
        Ok(result)
    }

    /// Waits for the diagnostics of `version`; returns how many there are.
    fn wait_diagnostics(&mut self, version: i64) -> Res<usize> {
        let message = self.wait(&format!("publishDiagnostics for version {version}"), |m| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == URI
                && m["params"]["version"] == version
        })?;
        Ok(message["params"]["diagnostics"]
            .as_array()
            .ok_or("diagnostics is not an array")?
            .len())
    }

    /// (VmRSS, VmHWM) in MiB, from /proc.
    fn memory_mb(&self) -> Res<(f64, f64)> {
        let path = format!("/proc/{}/status", self.child.id());
        let status =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let field = |name: &str| -> Res<f64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .ok_or(format!("{name} missing in {path}"))?;
            let kib = line
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<f64>().ok());
            Ok(kib.ok_or(format!("bad line `{line}` in {path}"))? / 1024.0)
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// shutdown + exit, then reap the process (killed if it does not exit in time).
    fn shutdown(mut self) -> Res<()> {
        self.request("shutdown", Value::Null)?;
        self.notify("exit", Value::Null)?;
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.child.try_wait().map_err(|e| e.to_string())? {
                Some(status) if status.success() => return Ok(()),
                Some(status) => {
                    return Err(format!(
                        "the server exited with {status} after shutdown/exit"
                    ));
                }
                None if Instant::now() > deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err("the server did not exit after shutdown/exit".into());
                }
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }
}

/// On an error path, do not leave a server behind (a no-op once it was reaped).
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
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = Some(
                value
                    .trim()
                    .parse::<usize>()
                    .map_err(|e| format!("bad Content-Length `{value}`: {e}"))?,
            );
        }
    }
    let mut body = vec![0; length.ok_or("a message without Content-Length")?];
    reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    serde_json::from_slice(&body).map_err(|e| format!("malformed JSON from the server: {e}"))
}

fn sample(runs: usize, mut f: impl FnMut() -> Res<Duration>) -> Res<Vec<Duration>> {
    let mut times = (0..runs).map(|_| f()).collect::<Res<Vec<_>>>()?;
    times.sort();
    Ok(times)
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn print_stats(name: &str, sorted: &[Duration]) {
    let [p50, p95, max] = [0.5, 0.95, 1.0].map(|p| ms(percentile(sorted, p)));
    println!("{name}: p50 {p50:.2} ms, p95 {p95:.2} ms, max {max:.2} ms");
}
