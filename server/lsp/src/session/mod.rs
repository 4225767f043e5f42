//! The session actor. It owns every open document and handles LSP events one
//! at a time, in arrival order. Diagnostics are computed after the event
//! queue drains (so a burst of edits costs one analysis) and sent through an
//! ordered outbox, so the actor never waits on the client.

mod execute;
mod outgoing;
mod panel_protocol;
mod watch;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use tdd_core::analysis::Options;
use tokio::sync::{mpsc, oneshot};
use tower_lsp_server::Client;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use crate::commands::{self, Command, Runs};
use crate::document::Document;
use crate::ext::{EventsParams, EventsResult, TaskDetailParams};
use crate::features;
use crate::settings::{self, PrdMatcher, Settings};
use crate::{panel, run_commands};
use tdd_engine::events::LoggedEvent;
use tdd_engine::view::{Metrics, Snapshot, TaskDetail};

type Reply<T> = oneshot::Sender<T>;

/// Everything the session reacts to. Closed, so the loop is exhaustive.
pub enum Event {
    Initialize {
        root: Option<PathBuf>,
        options: Option<Value>,
        /// The client can answer `workspace/configuration`.
        pull_configuration: bool,
        /// `capabilities.experimental.tddPanel`: an opt-in to the panel
        /// protocol, like `initializationOptions.panel`.
        panel: bool,
        /// `capabilities.window.workDoneProgress`.
        work_done_progress: bool,
        /// `capabilities.workspace.codeLens.refreshSupport`.
        lens_refresh: bool,
        /// The client registers file watchers when asked.
        watch_files: bool,
    },
    Initialized,
    Configuration(Value),
    Open(DidOpenTextDocumentParams),
    Change(DidChangeTextDocumentParams),
    Save(DidSaveTextDocumentParams),
    Close(DidCloseTextDocumentParams),
    Hover(HoverParams, Reply<Result<Option<Hover>>>),
    Definition(
        GotoDefinitionParams,
        Reply<Result<Option<GotoDefinitionResponse>>>,
    ),
    Symbols(
        DocumentSymbolParams,
        Reply<Result<Option<DocumentSymbolResponse>>>,
    ),
    Completion(CompletionParams, Reply<Result<Option<CompletionResponse>>>),
    CodeAction(CodeActionParams, Reply<Result<Option<CodeActionResponse>>>),
    Execute(ExecuteCommandParams, Reply<Result<Option<Value>>>),
    CodeLens(CodeLensParams, Reply<Result<Option<Vec<CodeLens>>>>),
    /// Files changed on disk (`workspace/didChangeWatchedFiles`).
    WatchedFiles(DidChangeWatchedFilesParams),
    /// The client asks the server to shut down: runs it started are cancelled.
    Shutdown(Reply<()>),
    /// A `tdd/` panel request.
    Panel(PanelCall),
}

/// The panel protocol's requests (`ext.rs`), answered from the store on a
/// blocking thread.
pub enum PanelCall {
    Snapshot(Reply<Result<Snapshot>>),
    Events(EventsParams, Reply<Result<EventsResult>>),
    TaskDetail(TaskDetailParams, Reply<Result<TaskDetail>>),
    Metrics(Reply<Result<Metrics>>),
}

/// Messages to the client, sent in order by one task.
enum Outgoing {
    Diagnostics(Uri, Vec<Diagnostic>, Option<i32>),
    Message(MessageType, String),
    /// A `tdd/event` notification (panel clients only).
    Event(Box<LoggedEvent>),
    /// A step of `$/progress` under a token; `Begin` first creates the token.
    Progress(String, run_commands::Progress),
    /// `workspace/codeLens/refresh`: a task ended, so the lenses' counts moved.
    RefreshLenses,
}

pub struct Session {
    client: Client,
    /// Our own queue, for answers of spawned client requests.
    events: mpsc::WeakUnboundedSender<Event>,
    outbox: mpsc::UnboundedSender<Outgoing>,
    documents: HashMap<Uri, Document>,
    /// Documents changed since their diagnostics were last published.
    dirty: BTreeSet<Uri>,
    root: Option<PathBuf>,
    /// Ask the client for settings after `initialized` (it said it can answer).
    pull_configuration: bool,
    settings: Settings,
    matcher: PrdMatcher,
    /// A read-only request panicked once already (the message is sent once).
    told_of_a_panic: bool,
    /// The runs this session started; shutdown cancels them.
    runs: run_commands::Runs,
    /// The client opted in to the panel protocol through its capabilities.
    panel_capability: bool,
    /// Pushes the event log's new entries while the client is a panel.
    following: Option<panel::Following>,
    work_done_progress: bool,
    /// The client can be asked to refresh its code lenses.
    lens_refresh: bool,
    /// The client can be asked to watch files.
    watch_files: bool,
    /// Progress tokens handed out so far.
    progress_tokens: u64,
}

pub fn spawn(client: Client) -> mpsc::UnboundedSender<Event> {
    let (tx, rx) = mpsc::unbounded_channel();
    let (outbox, outgoing) = mpsc::unbounded_channel();
    tokio::spawn(outgoing::send_outgoing(client.clone(), outgoing));
    let settings = Settings::default();
    let matcher = PrdMatcher::new(None, &settings.prd_globs);
    let events = tx.downgrade();
    let session = Session {
        client,
        events,
        outbox,
        documents: HashMap::new(),
        dirty: BTreeSet::new(),
        root: None,
        pull_configuration: false,
        settings,
        matcher,
        told_of_a_panic: false,
        runs: Default::default(),
        panel_capability: false,
        following: None,
        work_done_progress: false,
        lens_refresh: false,
        watch_files: false,
        progress_tokens: 0,
    };
    tokio::spawn(session.run(rx));
    tx
}

impl Session {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Event>) {
        while let Some(event) = rx.recv().await {
            self.handle_timed(event);
            // Drain what is already queued before publishing: a burst of edits costs one analysis.
            while let Ok(event) = rx.try_recv() {
                self.handle_timed(event);
            }
            self.publish_dirty();
        }
    }

    fn handle_timed(&mut self, event: Event) {
        let started = Instant::now();
        self.handle(event);
        let took = started.elapsed();
        if took > Duration::from_millis(50) {
            tracing::warn!(?took, "slow session turn");
        }
    }

    fn options(&self) -> Options {
        Options {
            max_bytes: self.settings.max_file_kib as usize * 1024,
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Initialize {
                root,
                options,
                pull_configuration,
                panel,
                work_done_progress,
                lens_refresh,
                watch_files,
            } => {
                self.watch_files = watch_files;
                self.lens_refresh = lens_refresh;
                self.pull_configuration = pull_configuration;
                self.panel_capability = panel;
                self.work_done_progress = work_done_progress;
                self.initialize(root, options);
                self.follow_if_panel();
            }
            Event::Initialized => {
                if self.watch_files {
                    self.watch_prd_files();
                }
                if self.pull_configuration {
                    self.pull_configuration();
                }
            }
            Event::Configuration(value) => {
                self.apply_settings(&value);
                self.follow_if_panel();
            }
            Event::Panel(call) => self.panel(call),
            Event::CodeLens(p, reply) => self.code_lens(p, reply),
            Event::WatchedFiles(p) => self.watched_files(p),
            Event::Open(p) => {
                let doc = p.text_document;
                let path = doc.uri.to_file_path().map(|p| p.into_owned());
                let is_prd = self.matcher.is_prd(path.as_deref(), &doc.text);
                let name = display_path(&doc.uri);
                self.documents.insert(
                    doc.uri.clone(),
                    Document::new(name, doc.text, doc.version, is_prd),
                );
                self.dirty.insert(doc.uri);
            }
            Event::Change(p) => {
                let uri = p.text_document.uri;
                let Some(doc) = self.documents.get_mut(&uri) else {
                    tracing::warn!(
                        uri = uri.as_str(),
                        "change for a document that is not open; ignored"
                    );
                    return;
                };
                doc.apply(p.content_changes, p.text_document.version);
                // Front matter may have made it a PRD (or stopped it being one).
                let path = uri.to_file_path().map(|p| p.into_owned());
                doc.is_prd = self.matcher.is_prd(path.as_deref(), &doc.text);
                self.dirty.insert(uri);
            }
            Event::Save(p) => {
                if let Some(text) = p.text
                    && let Some(doc) = self.documents.get_mut(&p.text_document.uri)
                    && doc.text != text
                {
                    let version = doc.version;
                    doc.apply(
                        vec![TextDocumentContentChangeEvent {
                            range: None,
                            range_length: None,
                            text,
                        }],
                        version,
                    );
                    self.dirty.insert(p.text_document.uri);
                }
            }
            Event::Close(p) => {
                self.documents.remove(&p.text_document.uri);
                self.dirty.remove(&p.text_document.uri);
                let _ =
                    self.outbox
                        .send(Outgoing::Diagnostics(p.text_document.uri, Vec::new(), None));
            }
            Event::Hover(p, reply) => {
                let at = p.text_document_position_params;
                let _ = reply.send(self.read_only("hover", &at.text_document.uri, |doc, a| {
                    features::hover(doc, a, at.position)
                }));
            }
            Event::Definition(p, reply) => {
                let at = p.text_document_position_params;
                let uri = at.text_document.uri.clone();
                let _ = reply.send(self.read_only("go to definition", &uri, |doc, a| {
                    features::definition(doc, &uri, a, at.position)
                }));
            }
            Event::Symbols(p, reply) => {
                let result = self.read_only("document symbols", &p.text_document.uri, |doc, a| {
                    Some(DocumentSymbolResponse::Nested(features::symbols(doc, a)))
                });
                let _ = reply.send(result);
            }
            Event::Completion(p, reply) => {
                let at = p.text_document_position;
                let result = self.read_only("completion", &at.text_document.uri, |doc, a| {
                    features::completion(doc, a, at.position)
                });
                let _ = reply.send(result);
            }
            Event::CodeAction(p, reply) => {
                let uri = p.text_document.uri.clone();
                let _ = reply.send(self.read_only("code actions", &uri, |doc, a| {
                    Some(features::code_actions(doc, &uri, a, p.range))
                }));
            }
            Event::Shutdown(reply) => {
                let runs = self.runs.clone();
                tokio::task::spawn_blocking(move || {
                    run_commands::stop_all(&runs);
                    let _ = reply.send(());
                });
            }
            Event::Execute(p, reply) => match Command::from_name(&p.command) {
                None => {
                    let message = format!(
                        "unknown command `{}`: the server offers {}",
                        p.command,
                        commands::names().join(", ")
                    );
                    let _ = reply.send(Err(tower_lsp_server::jsonrpc::Error::invalid_params(
                        message,
                    )));
                }
                Some(command) => match command.runs() {
                    Runs::OnSession => {
                        let _ = reply.send(self.execute(command, p));
                    }
                    Runs::Blocking => self.spawn_command(command, p, reply),
                },
            },
        }
    }

    /// Runs `f` on a PRD document with an up-to-date analysis.
    fn with_prd<T>(
        &mut self,
        uri: &Uri,
        f: impl FnOnce(&Document, &tdd_core::analysis::Analysis) -> Option<T>,
    ) -> Option<T> {
        let options = self.options();
        let doc = self.documents.get_mut(uri).filter(|d| d.is_prd)?;
        let analysis = doc.analysis(&options);
        f(doc, &analysis)
    }

    /// A read-only request on a PRD document. A panic in it (a bug) becomes
    /// an error reply, and the first one also a message: the session, its
    /// documents and every later request live on.
    fn read_only<T>(
        &mut self,
        what: &str,
        uri: &Uri,
        f: impl FnOnce(&Document, &tdd_core::analysis::Analysis) -> Option<T>,
    ) -> Result<Option<T>> {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.with_prd(uri, |doc, analysis| {
                features::panic_if_asked(what, uri);
                f(doc, analysis)
            })
        }));
        let panic = match caught {
            Ok(result) => return Ok(result),
            Err(panic) => panic,
        };
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_string());
        tracing::error!(request = what, uri = uri.as_str(), "panic: {why}");
        let message = format!(
            "tdd-orchestrator: {what} failed on {} (a bug: {why}); other requests still work. \
             Please report it with the server log.",
            display_path(uri)
        );
        if !self.told_of_a_panic {
            self.told_of_a_panic = true;
            self.tell(MessageType::ERROR, message.clone());
        }
        Err(tower_lsp_server::jsonrpc::Error {
            code: tower_lsp_server::jsonrpc::ErrorCode::InternalError,
            message: message.into(),
            data: None,
        })
    }

    fn initialize(&mut self, root: Option<PathBuf>, options: Option<Value>) {
        self.root = root;
        if let Some(root) = self
            .root
            .clone()
            .filter(|r| r.join(tdd_engine::project::TDD_DIR).is_dir())
        {
            // The daemon's overview lists the projects editors work in.
            tokio::task::spawn_blocking(move || {
                let added = tdd_engine::registry::Registry::for_user().and_then(|r| r.add(&root));
                if let Err(e) = added {
                    tracing::warn!("could not register {} with the daemon: {e}", root.display());
                }
            });
        }
        if let Some(root) = &self.root {
            match tdd_engine::project::load_config(root) {
                Ok(config) => {
                    self.settings.prd_globs = config.prd.globs;
                    self.settings.max_file_kib = config.prd.max_file_kib;
                }
                Err(err) => self.tell(
                    MessageType::WARNING,
                    format!("tdd-orchestrator: {err}; using defaults"),
                ),
            }
        }
        match options {
            Some(value) => self.apply_settings(&value),
            None => self.matcher = PrdMatcher::new(self.root.clone(), &self.settings.prd_globs),
        }
    }

    fn apply_settings(&mut self, value: &Value) {
        let parsed = settings::parse(value, &self.settings);
        for key in &parsed.unknown {
            tracing::info!(key, "ignoring unknown setting");
        }
        for problem in &parsed.invalid {
            self.tell(
                MessageType::WARNING,
                format!("tdd-orchestrator setting {problem}"),
            );
        }
        self.settings = parsed.settings;
        self.matcher = PrdMatcher::new(self.root.clone(), &self.settings.prd_globs);
        for (uri, doc) in &mut self.documents {
            let path = uri.to_file_path().map(|p| p.into_owned());
            doc.is_prd = self.matcher.is_prd(path.as_deref(), &doc.text);
            self.dirty.insert(uri.clone());
        }
    }

    /// Asks the client for its settings without blocking the session: the
    /// request runs in its own task with a timeout, and the answer comes back
    /// as an event. A client that never answers changes nothing.
    fn pull_configuration(&self) {
        let client = self.client.clone();
        let Some(events) = self.events.upgrade() else {
            return;
        };
        tokio::spawn(async move {
            let item = ConfigurationItem {
                scope_uri: None,
                section: Some("tddOrchestrator".to_string()),
            };
            let answer =
                tokio::time::timeout(Duration::from_secs(5), client.configuration(vec![item]))
                    .await;
            match answer {
                Ok(Ok(mut values)) if values.first().is_some_and(|v| !v.is_null()) => {
                    let _ = events.send(Event::Configuration(values.swap_remove(0)));
                }
                Ok(Ok(_)) => {}
                Ok(Err(err)) => tracing::debug!(%err, "client did not provide configuration"),
                Err(_) => tracing::warn!(
                    "client did not answer workspace/configuration within 5 s; keeping settings"
                ),
            }
        });
    }

    fn tell(&self, kind: MessageType, text: String) {
        let _ = self.outbox.send(Outgoing::Message(kind, text));
    }

    fn publish_dirty(&mut self) {
        let options = self.options();
        for uri in std::mem::take(&mut self.dirty) {
            let Some(doc) = self.documents.get_mut(&uri) else {
                continue;
            };
            let diags = if doc.is_prd {
                let analysis = doc.analysis(&options);
                features::diagnostics(doc, &uri, &analysis)
            } else {
                Vec::new()
            };
            let _ = self
                .outbox
                .send(Outgoing::Diagnostics(uri, diags, Some(doc.version)));
        }
    }
}

impl Session {
    /// Lenses on the document's requirements; the store is read on a
    /// blocking thread.
    fn code_lens(&mut self, params: CodeLensParams, reply: Reply<Result<Option<Vec<CodeLens>>>>) {
        let uri = params.text_document.uri;
        let options = self.options();
        let root = self.root.clone();
        let file = uri.to_file_path().map(|p| p.into_owned());
        let (Some(root), Some(file), Some(doc)) = (
            root,
            file,
            self.documents.get_mut(&uri).filter(|d| d.is_prd),
        ) else {
            let _ = reply.send(Ok(None));
            return;
        };
        let analysis = doc.analysis(&options);
        let requirements: Vec<crate::lenses::Requirement> = analysis
            .prd
            .requirements
            .iter()
            .map(|r| crate::lenses::Requirement {
                id: r.id.value.clone(),
                range: doc.range(r.header),
            })
            .collect();
        tokio::task::spawn_blocking(move || {
            let prd = tdd_engine::planning::relative_path(&root, &file);
            let lenses = crate::lenses::lenses(&root, &uri, &prd, requirements);
            let _ = reply.send(Ok(Some(lenses)));
        });
    }
}

/// LSP `RequestFailed`: the request was valid but cannot be served.
fn request_failed(message: &str) -> tower_lsp_server::jsonrpc::Error {
    tower_lsp_server::jsonrpc::Error {
        code: tower_lsp_server::jsonrpc::ErrorCode::ServerError(-32803),
        message: message.to_string().into(),
        data: None,
    }
}

fn display_path(uri: &Uri) -> String {
    uri.to_file_path()
        .map_or_else(|| uri.as_str().to_string(), |p| p.display().to_string())
}
