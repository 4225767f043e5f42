//! An in-process LSP client over a duplex pipe: real Content-Length framing,
//! the real server, no process boundary. Every wait has a timeout.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::{Value, json};
use tdd_core::text::{ColumnUnit, LineCol, LineIndex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream, WriteHalf};
use tokio::sync::mpsc;

pub const TIMEOUT: Duration = Duration::from_secs(10);

pub struct TestClient {
    writer: WriteHalf<DuplexStream>,
    incoming: mpsc::UnboundedReceiver<Value>,
    /// Server messages read while waiting for something else.
    backlog: VecDeque<Value>,
    next_id: i64,
    /// Answer server→client requests (with `null`s); when false they are left unanswered.
    pub answer_server_requests: bool,
    pub server_requests: Vec<Value>,
}

impl TestClient {
    pub fn start() -> Self {
        let (client_end, server_end) = tokio::io::duplex(1 << 16);
        let (server_read, server_write) = tokio::io::split(server_end);
        tokio::spawn(tdd_lsp::serve(server_read, server_write));
        let (client_read, writer) = tokio::io::split(client_end);
        let (tx, incoming) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(client_read);
            while let Some(message) = read_message(&mut reader).await {
                if tx.send(message).is_err() {
                    break;
                }
            }
        });
        TestClient {
            writer,
            incoming,
            backlog: VecDeque::new(),
            next_id: 1,
            answer_server_requests: true,
            server_requests: Vec::new(),
        }
    }

    pub async fn send(&mut self, message: Value) {
        let body = serde_json::to_string(&message).unwrap();
        let frame = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        self.writer.write_all(frame.as_bytes()).await.unwrap();
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await;
    }

    /// Sends a request without waiting; returns its id.
    pub async fn request_nowait(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        id
    }

    /// The full response (`result` or `error`) to request `id`.
    pub async fn response(&mut self, id: i64) -> Value {
        self.wait_for(|m| m.get("id") == Some(&json!(id)) && m.get("method").is_none())
            .await
    }

    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.request_nowait(method, params).await;
        let response = self.response(id).await;
        assert!(
            response.get("error").is_none(),
            "{method} failed: {response}"
        );
        response["result"].clone()
    }

    /// The next message matching `pred`; other messages stay queued in order.
    pub async fn wait_for(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(pos) = self.backlog.iter().position(&pred) {
            return self.backlog.remove(pos).unwrap();
        }
        loop {
            let message = tokio::time::timeout(TIMEOUT, self.incoming.recv())
                .await
                .expect("timed out waiting for a server message")
                .expect("the server closed the connection");
            if message.get("method").is_some() && message.get("id").is_some() {
                self.server_requests.push(message.clone());
                if self.answer_server_requests {
                    let id = message["id"].clone();
                    // `workspace/configuration` wants one value per item; the rest, null.
                    let result = match message["method"].as_str() {
                        Some("workspace/configuration") => json!([null]),
                        _ => Value::Null,
                    };
                    self.send(json!({"jsonrpc": "2.0", "id": id, "result": result}))
                        .await;
                }
                if pred(&message) {
                    return message;
                }
                continue;
            }
            if pred(&message) {
                return message;
            }
            self.backlog.push_back(message);
        }
    }

    /// Messages received but not read yet whose method is `method`.
    pub fn unread(&self, method: &str) -> usize {
        self.backlog
            .iter()
            .filter(|m| m["method"] == method)
            .count()
    }

    /// The next `window/showMessage` whose text starts with `prefix`.
    pub async fn shown_starting(&mut self, prefix: &str) -> Value {
        self.wait_for(|m| {
            m["method"] == "window/showMessage"
                && m["params"]["message"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(prefix))
        })
        .await["params"]
            .clone()
    }

    pub async fn notification(&mut self, method: &str) -> Value {
        let method = method.to_string();
        self.wait_for(move |m| m["method"] == json!(method)).await["params"].clone()
    }

    /// Diagnostics published for `uri` at exactly `version`.
    pub async fn diagnostics_at(&mut self, uri: &str, version: i64) -> Vec<Value> {
        let uri = uri.to_string();
        let params = self
            .wait_for(move |m| {
                m["method"] == "textDocument/publishDiagnostics"
                    && m["params"]["uri"] == json!(uri)
                    && m["params"]["version"] == json!(version)
            })
            .await;
        params["params"]["diagnostics"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Every publishDiagnostics (uri, version) seen so far, then clears them from the backlog.
    pub fn drain_published(&mut self) -> Vec<(String, Option<i64>)> {
        while let Ok(message) = self.incoming.try_recv() {
            self.backlog.push_back(message);
        }
        let (published, rest): (Vec<Value>, Vec<Value>) = self
            .backlog
            .drain(..)
            .partition(|m| m["method"] == "textDocument/publishDiagnostics");
        self.backlog = rest.into();
        published
            .iter()
            .map(|m| {
                (
                    m["params"]["uri"].as_str().unwrap().to_string(),
                    m["params"]["version"].as_i64(),
                )
            })
            .collect()
    }

    pub async fn initialize(&mut self, options: Value) -> Value {
        self.initialize_in("file:///workspace", options).await
    }

    /// Initializes with `root` (a `file://` URI) as the workspace.
    pub async fn initialize_in(&mut self, root: &str, options: Value) -> Value {
        let capabilities = json!({ "workspace": { "configuration": true } });
        self.initialize_with(root, capabilities, options).await
    }

    /// Initializes with `root` as the workspace and these client capabilities.
    pub async fn initialize_with(
        &mut self,
        root: &str,
        capabilities: Value,
        options: Value,
    ) -> Value {
        let result = self
            .request(
                "initialize",
                json!({
                    "processId": null,
                    "rootUri": root,
                    "capabilities": capabilities,
                    "initializationOptions": options,
                }),
            )
            .await;
        self.notify("initialized", json!({})).await;
        result
    }

    /// Every message received so far and not read, in order (and clears them).
    pub fn take_backlog(&mut self) -> Vec<Value> {
        while let Ok(message) = self.incoming.try_recv() {
            self.backlog.push_back(message);
        }
        self.backlog.drain(..).collect()
    }

    pub async fn open(&mut self, uri: &str, text: &str, version: i64) {
        let doc = json!({"uri": uri, "languageId": "markdown", "version": version, "text": text});
        self.notify("textDocument/didOpen", json!({ "textDocument": doc }))
            .await;
    }

    pub async fn change_full(&mut self, uri: &str, text: &str, version: i64) {
        let params = json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]});
        self.notify("textDocument/didChange", params).await;
    }
}

/// Every message the server said to the person must have been read by the
/// test (as ruff's test server checks): a test that leaves one unread
/// missed something, such as an error shown to the user. Left out are the
/// streams a test samples (diagnostics, whose publications supersede each
/// other, and the panel's `tdd/event`s) and the server's requests (answered
/// when read): one of those may still be on its way when a test ends.
impl Drop for TestClient {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        while let Ok(message) = self.incoming.try_recv() {
            self.backlog.push_back(message);
        }
        let unread: Vec<&Value> = self
            .backlog
            .iter()
            .filter(|m| m.get("id").is_none())
            .filter(|m| {
                m["method"] != "textDocument/publishDiagnostics" && m["method"] != "tdd/event"
            })
            .collect();
        assert!(
            unread.is_empty(),
            "server messages the test never read: {unread:#?}"
        );
    }
}

async fn read_message<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("Content-Length: ") {
            length = value.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).await.ok()?;
    serde_json::from_slice(&body).ok()
}

/// Applies LSP `TextEdit`s (UTF-16 positions) to `text`, as an editor would.
pub fn apply_text_edits(text: &str, edits: &[Value]) -> String {
    let index = LineIndex::new(text);
    let offset = |p: &Value| {
        let pos = LineCol {
            line: p["line"].as_u64().unwrap() as u32,
            col: p["character"].as_u64().unwrap() as u32,
        };
        index.offset(text, pos, ColumnUnit::Utf16)
    };
    let mut spans: Vec<(usize, usize, &str)> = edits
        .iter()
        .map(|e| {
            (
                offset(&e["range"]["start"]),
                offset(&e["range"]["end"]),
                e["newText"].as_str().unwrap(),
            )
        })
        .collect();
    spans.sort_by_key(|edit| std::cmp::Reverse(edit.0));
    let mut out = text.to_string();
    for (start, end, new_text) in spans {
        out.replace_range(start..end, new_text);
    }
    out
}

pub fn codes(diagnostics: &[Value]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap_or("").to_string())
        .collect()
}
