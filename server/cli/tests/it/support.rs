//! The CLI tests' own helpers (a Python project, the language server over
//! stdio, the daemon over HTTP), over the shared ones of `tdd-test-support`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub use tdd_test_support::{git, path_with_venv, venv_bin, write};

/// A fresh directory under the target's temp dir.
pub fn fresh_dir(name: &str) -> PathBuf {
    tdd_test_support::scratch_dir!(name)
}

/// A git repository on `main` holding a small Python project (`calc`)
/// whose `conftest.py` puts `src` on the path (nothing committed yet), with
/// the files in `extra` (path, text). The worker script stays untracked.
pub fn python_project(root: &Path, extra: &[(&str, &str)]) {
    let ignore = "__pycache__/\n*.pyc\n.pytest_cache/\n/script.toml\n";
    let mut files = vec![(".gitignore", ignore)];
    files.extend_from_slice(extra);
    tdd_test_support::python_project(root, Some("calc"), &files);
}

/// The real `tdd-orchestrator lsp` over stdio: framed JSON-RPC, a reader
/// thread, and every wait bounded.
pub struct StdioLsp {
    child: Child,
    stdin: std::process::ChildStdin,
    incoming: std::sync::mpsc::Receiver<serde_json::Value>,
    /// Messages read while waiting for something else, in order.
    backlog: std::collections::VecDeque<serde_json::Value>,
    next_id: i64,
}

impl StdioLsp {
    /// Starts the server in `root` and initializes it with `capabilities`
    /// and `options`.
    pub fn start(
        root: &Path,
        capabilities: serde_json::Value,
        options: serde_json::Value,
    ) -> StdioLsp {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tdd-orchestrator"))
            .arg("lsp")
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, incoming) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    if let Some(n) = line.strip_prefix("Content-Length: ") {
                        length = n.trim().parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; length.unwrap_or(0)];
                if stdout.read_exact(&mut body).is_err() {
                    return;
                }
                let Ok(message) = serde_json::from_slice(&body) else {
                    return;
                };
                if tx.send(message).is_err() {
                    return;
                }
            }
        });
        let mut client = StdioLsp {
            child,
            stdin,
            incoming,
            backlog: Default::default(),
            next_id: 1,
        };
        let root_uri = format!("file://{}", root.display());
        client.request(
            "initialize",
            serde_json::json!({
                "processId": null, "rootUri": root_uri,
                "capabilities": capabilities, "initializationOptions": options,
            }),
        );
        client.notify("initialized", serde_json::json!({}));
        client
    }

    fn send(&mut self, message: serde_json::Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    pub fn notify(&mut self, method: &str, params: serde_json::Value) {
        self.send(serde_json::json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// The result of a request; an error reply fails the test.
    pub fn request(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(
            serde_json::json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }),
        );
        let reply = self.wait_for(|m| m["id"] == id && m.get("method").is_none());
        assert!(reply.get("error").is_none(), "{method}: {reply}");
        reply["result"].clone()
    }

    /// The next message matching `pred` (others are kept, in order); server
    /// requests are answered with `null`.
    pub fn wait_for(&mut self, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        if let Some(i) = self.backlog.iter().position(&pred) {
            return self.backlog.remove(i).unwrap();
        }
        loop {
            let message = self
                .incoming
                .recv_timeout(Duration::from_secs(60))
                .expect("no message from the language server within 60 s");
            if message.get("method").is_some() && message.get("id").is_some() {
                let id = message["id"].clone();
                self.send(serde_json::json!({ "jsonrpc": "2.0", "id": id, "result": null }));
            }
            if pred(&message) {
                return message;
            }
            self.backlog.push_back(message);
        }
    }

    /// The messages read while waiting for others, oldest first.
    pub fn received(&self) -> &std::collections::VecDeque<serde_json::Value> {
        &self.backlog
    }

    /// Shuts the server down and waits for it to exit.
    pub fn stop(mut self) {
        let _ = self.request("shutdown", serde_json::Value::Null);
        self.notify("exit", serde_json::Value::Null);
        for _ in 0..200 {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
    }
}

impl Drop for StdioLsp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `command` (a `serve --port 0`; its stderr as the caller set it):
/// returns the child, its address and token.
pub fn serve(mut command: Command) -> (Child, String, String) {
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"));
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, token) = rest.split_once("/?token=").unwrap();
    std::thread::spawn(move || for _ in lines {});
    (child, addr.to_string(), token.to_string())
}

/// A plain HTTP/1.1 GET; returns the status and the body (not for SSE).
pub fn http_get(addr: &str, token: &str, path: &str) -> (u16, serde_json::Value) {
    let mut socket = TcpStream::connect(addr).unwrap();
    write!(
        socket,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    socket.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    )
}

pub fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

/// An SSE client of the daemon: reads entries until `stop` says so.
pub fn sse(
    addr: &str,
    token: &str,
    id: &str,
    last_event_id: Option<i64>,
    stop: impl Fn(&serde_json::Value) -> bool,
) -> Vec<serde_json::Value> {
    let mut socket = TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let resume = last_event_id.map_or(String::new(), |n| format!("Last-Event-ID: {n}\r\n"));
    write!(
        socket,
        "GET /api/v1/projects/{id}/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n{resume}\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(socket);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
    }
    // Chunked transfer: a size line, that many bytes, CRLF.
    let mut text = String::new();
    let mut seqs = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let size = usize::from_str_radix(line.trim(), 16).unwrap();
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).unwrap();
        text.push_str(std::str::from_utf8(&chunk[..size]).unwrap());
        while let Some(end) = text.find("\n\n") {
            let frame: String = text.drain(..end + 2).collect();
            let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data:")) else {
                continue;
            };
            let entry: serde_json::Value = serde_json::from_str(data.trim()).unwrap();
            let done = stop(&entry);
            seqs.push(entry);
            if done {
                return seqs;
            }
        }
    }
}
