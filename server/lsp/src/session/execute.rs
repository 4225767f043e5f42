//! `workspace/executeCommand`: quick commands run on the session; the
//! convert command asks the editor to create a file; planning commands run
//! on a blocking thread.

use std::time::Duration;

use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;

use super::{Outgoing, Reply, Session};
use crate::{commands, plan_commands, run_commands};
use tdd_engine::store::claims::RunControl;

impl Session {
    pub(super) fn execute(&mut self, params: ExecuteCommandParams) -> Result<Option<Value>> {
        let Some(command) = commands::find(&params.command) else {
            return Err(Error::invalid_params(format!(
                "unknown command `{}`",
                params.command
            )));
        };
        if !command.available {
            return Err(Error {
                // LSP `RequestFailed`: the request was valid but cannot be served.
                code: tower_lsp_server::jsonrpc::ErrorCode::ServerError(-32803),
                message: format!(
                    "`{}` ({}) is not available in this version of tdd-orchestrator yet: it arrives with the execution engine",
                    command.name, command.title
                )
                .into(),
                data: None,
            });
        }
        let uri = params
            .arguments
            .first()
            .and_then(|a| a.get("uri").or(Some(a)))
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Uri>().ok());
        match command.name {
            commands::VALIDATE => {
                let targets: Vec<Uri> = match uri {
                    Some(uri) => vec![uri],
                    None => self.documents.keys().cloned().collect(),
                };
                let options = self.options();
                let mut counts = serde_json::Map::new();
                for uri in targets {
                    let Some(doc) = self.documents.get_mut(&uri).filter(|d| d.is_prd) else {
                        continue;
                    };
                    let analysis = doc.analysis(&options);
                    counts.insert(uri.as_str().to_string(), analysis.diagnostics.len().into());
                    self.dirty.insert(uri);
                }
                Ok(Some(Value::Object(counts)))
            }
            commands::CONVERT => {
                let uri = uri.ok_or_else(|| {
                    Error::invalid_params("tdd.convertToMarkdown needs a document uri argument")
                })?;
                let markdown = self
                    .with_prd(&uri, |_, a| Some(tdd_core::render::to_markdown(&a.prd)))
                    .ok_or_else(|| {
                        Error::invalid_params(format!("{} is not an open PRD", uri.as_str()))
                    })?;
                let target = self.create_converted(&uri, &markdown)?;
                Ok(Some(
                    serde_json::json!({ "uri": target.as_str(), "markdown": markdown }),
                ))
            }
            _ => Err(Error::internal_error()),
        }
    }
}

impl Session {
    /// Asks the client to create `<stem>.prd.md` beside a converted legacy
    /// spec. The request runs in its own task with a timeout; an existing file
    /// is never overwritten.
    fn create_converted(&self, source: &Uri, markdown: &str) -> Result<Uri> {
        let path = source
            .to_file_path()
            .ok_or_else(|| Error::invalid_params("only files on disk can be converted"))?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("spec");
        let target_path = path.with_file_name(format!("{stem}.prd.md"));
        if target_path.exists() {
            return Err(Error::invalid_params(format!(
                "{} already exists; move it away to convert again",
                target_path.display()
            )));
        }
        let target = Uri::from_file_path(&target_path)
            .ok_or_else(|| Error::invalid_params("cannot name the converted file"))?;
        let document = OptionalVersionedTextDocumentIdentifier {
            uri: target.clone(),
            version: None,
        };
        let insert = TextEdit::new(Range::default(), markdown.to_string());
        let edit = WorkspaceEdit {
            document_changes: Some(DocumentChanges::Operations(vec![
                DocumentChangeOperation::Op(ResourceOp::Create(CreateFile {
                    uri: target.clone(),
                    options: Some(CreateFileOptions {
                        overwrite: Some(false),
                        ignore_if_exists: Some(false),
                    }),
                    annotation_id: None,
                })),
                DocumentChangeOperation::Edit(TextDocumentEdit {
                    text_document: document,
                    edits: vec![OneOf::Left(insert)],
                }),
            ])),
            ..Default::default()
        };
        let client = self.client.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(Duration::from_secs(30), client.apply_edit(edit)).await {
                Ok(Ok(response)) if response.applied => {}
                Ok(Ok(response)) => {
                    tracing::warn!(reason = ?response.failure_reason, "client refused the conversion edit")
                }
                Ok(Err(err)) => tracing::warn!(%err, "workspace/applyEdit failed"),
                Err(_) => tracing::warn!("client did not answer workspace/applyEdit within 30 s"),
            }
        });
        Ok(target)
    }
}

impl Session {
    /// Runs a planning command on a blocking thread: files and SQLite must not
    /// stall the session. The reply and a summary message follow when done.
    pub(super) fn spawn_planning(
        &mut self,
        params: ExecuteCommandParams,
        reply: Reply<Result<Option<Value>>>,
    ) {
        let uri = params
            .arguments
            .first()
            .and_then(|a| a.get("uri").or(Some(a)))
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Uri>().ok());
        let file = uri
            .as_ref()
            .and_then(|u| u.to_file_path())
            .map(|p| p.into_owned());
        let root = self.root.clone().or_else(|| {
            file.as_deref()
                .and_then(|f| f.parent())
                .map(tdd_engine::project::find_root)
        });
        let command = params.command;
        let job: Box<dyn FnOnce() -> std::result::Result<plan_commands::Outcome, String> + Send> =
            match (command.as_str(), root, file) {
                (commands::STATUS, Some(root), _) => Box::new(move || plan_commands::status(&root)),
                (commands::STATUS, None, _) => {
                    Box::new(|| Err("open a workspace folder to see its status".to_string()))
                }
                (_, Some(root), Some(file)) => {
                    // The buffer as the user sees it, saved or not.
                    let text = uri
                        .as_ref()
                        .and_then(|u| self.documents.get(u))
                        .map(|d| d.text.clone());
                    let dry_run = command == commands::DECOMPOSE_DRY_RUN;
                    Box::new(move || {
                        let text = match text {
                            Some(text) => text,
                            None => std::fs::read_to_string(&file)
                                .map_err(|e| format!("{}: {e}", file.display()))?,
                        };
                        plan_commands::decompose(&root, &file, text, dry_run)
                    })
                }
                _ => Box::new(move || {
                    Err(format!(
                        "{command} needs the uri of a PRD file as its argument"
                    ))
                }),
            };
        let outbox = self.outbox.clone();
        tokio::task::spawn_blocking(move || {
            let outcome = job();
            let (kind, text) = match &outcome {
                Ok(o) => (MessageType::INFO, o.message.clone()),
                Err(e) => (MessageType::ERROR, e.clone()),
            };
            let _ = outbox.send(Outgoing::Message(kind, text));
            let _ = reply.send(outcome.map(|o| Some(o.result)).map_err(|message| Error {
                code: tower_lsp_server::jsonrpc::ErrorCode::ServerError(-32803),
                message: message.into(),
                data: None,
            }));
        });
    }
}

/// Run notices go out through the session's ordered outbox: work-done
/// progress to a client that supports it, the run's end as a message to
/// every client. (The panel reads the run from the event log.)
struct OutboxNotices {
    outbox: tokio::sync::mpsc::UnboundedSender<Outgoing>,
    /// The client's `window.workDoneProgress`.
    progress: bool,
    /// This run's progress token.
    token: String,
}

impl run_commands::Notices for OutboxNotices {
    fn progress(&self, step: run_commands::Progress) {
        if self.progress {
            let token = self.token.clone();
            let _ = self.outbox.send(Outgoing::Progress(token, step));
        }
    }

    fn finished(&self, ok: bool, message: String) {
        let kind = if ok {
            MessageType::INFO
        } else {
            MessageType::WARNING
        };
        let _ = self.outbox.send(Outgoing::Message(kind, message));
    }
}

impl Session {
    /// The run commands, on a blocking thread (they open the store; `run`
    /// checks the configuration before it answers and then runs on its own
    /// thread).
    pub(super) fn spawn_run_command(
        &mut self,
        params: ExecuteCommandParams,
        reply: Reply<Result<Option<Value>>>,
    ) {
        let args = params.arguments.first().cloned().unwrap_or(Value::Null);
        let file = args
            .get("uri")
            .or(Some(&args))
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Uri>().ok())
            .and_then(|u| u.to_file_path().map(|p| p.into_owned()));
        let root = self.root.clone().or_else(|| {
            file.as_deref()
                .and_then(|f| f.parent())
                .map(tdd_engine::project::find_root)
        });
        self.progress_tokens += 1;
        let notices = std::sync::Arc::new(OutboxNotices {
            outbox: self.outbox.clone(),
            progress: self.work_done_progress,
            token: format!("tdd-run-{}", self.progress_tokens),
        });
        let runs = self.runs.clone();
        let command = params.command;
        tokio::task::spawn_blocking(move || {
            let result = match root {
                None => Err("open a workspace folder, or give the uri of a PRD file".to_string()),
                Some(root) => match command.as_str() {
                    commands::RUN => run_commands::start(root, file, false, notices, &runs),
                    commands::RESUME => run_commands::start(root, file, true, notices, &runs),
                    commands::PAUSE => run_commands::control(root, RunControl::Pause),
                    commands::CANCEL => run_commands::control(root, RunControl::Cancel),
                    commands::DONE => run_commands::done(root, &args),
                    commands::RESET_BREAKER => run_commands::reset_breaker(root, &args),
                    other => Err(format!("`{other}` is not a run command")),
                },
            };
            let _ = reply.send(result.map(Some).map_err(|message| Error {
                code: tower_lsp_server::jsonrpc::ErrorCode::ServerError(-32803),
                message: message.into(),
                data: None,
            }));
        });
    }
}
