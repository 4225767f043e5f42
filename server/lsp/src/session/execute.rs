//! `workspace/executeCommand`: quick commands run on the session (the
//! convert command asks the editor to create a file); the rest on a
//! blocking thread, where a run starts a thread of its own.

use std::time::Duration;

use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;

use std::path::PathBuf;

use super::{Outgoing, Reply, Session};
use crate::commands::Command;
use crate::{plan_commands, run_commands};
use tdd_engine::store::claims::RunControl;

impl Session {
    /// The commands that run on the session ([`Runs::OnSession`]).
    pub(super) fn execute(
        &mut self,
        command: Command,
        params: ExecuteCommandParams,
    ) -> Result<Option<Value>> {
        let uri = params
            .arguments
            .first()
            .and_then(|a| a.get("uri").or(Some(a)))
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Uri>().ok());
        match command {
            Command::Validate => {
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
            Command::ConvertToMarkdown => {
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
            other => Err(Error::invalid_params(format!(
                "{} runs on a blocking thread, not on the session",
                other.name()
            ))),
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

/// Run notices go out through the session's ordered outbox: work-done
/// progress to a client that supports it, the run's end as a message to
/// every client. (The panel reads the run from the event log.)
struct OutboxNotices {
    outbox: tokio::sync::mpsc::UnboundedSender<Outgoing>,
    /// The client's `window.workDoneProgress`.
    progress: bool,
    /// This run's progress token.
    token: String,
    /// The client's `workspace.codeLens.refreshSupport`.
    lens_refresh: bool,
}

impl run_commands::Notices for OutboxNotices {
    fn progress(&self, step: run_commands::Progress) {
        // A report or an end follows a task's end: the lenses' counts moved
        // (a panel client is told through the event log as well).
        let moved = !matches!(step, run_commands::Progress::Begin { .. });
        if self.progress {
            let token = self.token.clone();
            let _ = self.outbox.send(Outgoing::Progress(token, step));
        }
        if moved && self.lens_refresh {
            let _ = self.outbox.send(Outgoing::RefreshLenses);
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
    /// A command that reads files, SQLite or git ([`Runs::Blocking`]), on a
    /// blocking thread: the session keeps answering meanwhile. The reply
    /// follows when it is done, and for planning commands a one-line
    /// summary as a message.
    pub(super) fn spawn_command(
        &mut self,
        command: Command,
        params: ExecuteCommandParams,
        reply: Reply<Result<Option<Value>>>,
    ) {
        let args = params.arguments.first().cloned().unwrap_or(Value::Null);
        let uri = args
            .get("uri")
            .or(Some(&args))
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
        // The buffer as the user sees it, saved or not.
        let text = uri
            .as_ref()
            .and_then(|u| self.documents.get(u))
            .map(|d| d.text.clone());
        self.progress_tokens += 1;
        let notices = std::sync::Arc::new(OutboxNotices {
            outbox: self.outbox.clone(),
            progress: self.work_done_progress,
            // A panel client hears of each task's end through the log.
            lens_refresh: self.lens_refresh && !self.is_panel(),
            token: format!("tdd-run-{}", self.progress_tokens),
        });
        let runs = self.runs.clone();
        let outbox = self.outbox.clone();
        tokio::task::spawn_blocking(move || {
            let outcome = match root {
                None => Err(format!(
                    "{}: open a workspace folder, or give the uri of a PRD file",
                    command.name()
                )),
                Some(root) => run_blocking(command, root, file, text, &args, notices, &runs),
            };
            if let Ok(Some(message)) | Err(message) = outcome
                .as_ref()
                .map(|(_, m)| m.clone())
                .map_err(Clone::clone)
            {
                let kind = if outcome.is_ok() {
                    MessageType::INFO
                } else {
                    MessageType::ERROR
                };
                let _ = outbox.send(Outgoing::Message(kind, message));
            }
            let _ = reply.send(
                outcome
                    .map(|(result, _)| Some(result))
                    .map_err(|message| Error {
                        // LSP `RequestFailed`: the request was valid but cannot be served.
                        code: tower_lsp_server::jsonrpc::ErrorCode::ServerError(-32803),
                        message: message.into(),
                        data: None,
                    }),
            );
        });
    }
}

/// A blocking command's result, and the message to show (planning
/// commands), or why it failed.
fn run_blocking(
    command: Command,
    root: PathBuf,
    file: Option<PathBuf>,
    text: Option<String>,
    args: &Value,
    notices: std::sync::Arc<OutboxNotices>,
    runs: &run_commands::Runs,
) -> std::result::Result<(Value, Option<String>), String> {
    let quiet = |result: std::result::Result<Value, String>| result.map(|v| (v, None));
    let planned = |outcome: std::result::Result<plan_commands::Outcome, String>| {
        outcome.map(|o| (o.result, Some(o.message)))
    };
    match command {
        Command::Status => planned(plan_commands::status(&root)),
        Command::Decompose | Command::DecomposeDryRun => {
            let file = file.ok_or_else(|| {
                format!(
                    "{} needs the uri of a PRD file as its argument",
                    command.name()
                )
            })?;
            let text = match text {
                Some(text) => text,
                None => std::fs::read_to_string(&file)
                    .map_err(|e| format!("{}: {e}", file.display()))?,
            };
            let dry_run = command == Command::DecomposeDryRun;
            planned(plan_commands::decompose(&root, &file, text, dry_run))
        }
        Command::Run | Command::Resume => {
            // `{ "uri", "requirement"? }`: a code lens runs one requirement.
            let requirement = args
                .get("requirement")
                .and_then(Value::as_str)
                .map(str::to_string);
            let resume = command == Command::Resume;
            quiet(run_commands::start(
                root,
                file,
                resume,
                requirement,
                notices,
                runs,
            ))
        }
        Command::Pause => quiet(run_commands::control(root, RunControl::Pause)),
        Command::Cancel => quiet(run_commands::control(root, RunControl::Cancel)),
        Command::Retry => quiet(run_commands::retry(root, args)),
        Command::Skip => quiet(run_commands::skip(root, args)),
        Command::Done => quiet(run_commands::done(root, args)),
        Command::ResetBreaker => quiet(run_commands::reset_breaker(root, args)),
        Command::IsolateBreaker => quiet(run_commands::isolate_breaker(root, args)),
        Command::TaskDetail => {
            let params: crate::ext::TaskDetailParams = serde_json::from_value(args.clone())
                .map_err(|_| "tdd.taskDetail needs {\"task\": \"<task key>\"}".to_string())?;
            let detail = crate::panel::task_detail(&root, &params)?;
            quiet(serde_json::to_value(detail).map_err(|e| e.to_string()))
        }
        Command::Validate | Command::ConvertToMarkdown => Err(format!(
            "{} runs on the session, not on a blocking thread",
            command.name()
        )),
    }
}
