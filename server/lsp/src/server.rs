//! The tower-lsp-server front. Handlers never await before their message is
//! on the session queue (`UnboundedSender::send` is synchronous), so the
//! session sees notifications in arrival order whatever the transport's
//! concurrency. Requests then await only the session's reply.

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

use crate::commands;
use crate::ext::{EventsParams, EventsResult, SnapshotParams, TaskDetailParams};
use crate::session::{self, Event, PanelCall};
use tdd_engine::view::{Metrics, Snapshot, TaskDetail};

pub struct Backend {
    events: mpsc::UnboundedSender<Event>,
}

impl Backend {
    pub fn new(client: Client) -> Self {
        Backend {
            events: session::spawn(client),
        }
    }

    fn notify(&self, event: Event) {
        if self.events.send(event).is_err() {
            tracing::error!("the session has stopped; dropping a notification");
        }
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Event) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.events
            .send(make(tx))
            .map_err(|_| Error::internal_error())?;
        rx.await.map_err(|_| Error::internal_error())
    }
}

/// The `tdd/` requests (`ext.rs`): each goes to the session, which answers
/// from the store on a blocking thread.
impl Backend {
    pub async fn snapshot(&self, _: Option<SnapshotParams>) -> Result<Snapshot> {
        self.ask(|tx| Event::Panel(PanelCall::Snapshot(tx))).await?
    }

    pub async fn events(&self, params: EventsParams) -> Result<EventsResult> {
        self.ask(|tx| Event::Panel(PanelCall::Events(params, tx)))
            .await?
    }

    pub async fn task_detail(&self, params: TaskDetailParams) -> Result<TaskDetail> {
        self.ask(|tx| Event::Panel(PanelCall::TaskDetail(params, tx)))
            .await?
    }

    pub async fn metrics(&self, _: Option<SnapshotParams>) -> Result<Metrics> {
        self.ask(|tx| Event::Panel(PanelCall::Metrics(tx))).await?
    }
}

fn root_of(params: &InitializeParams) -> Option<std::path::PathBuf> {
    let folder = params
        .workspace_folders
        .as_ref()
        .and_then(|f| f.first())
        .map(|f| &f.uri);
    #[allow(deprecated)] // Older clients send only `rootUri`.
    let uri = folder.or(params.root_uri.as_ref())?;
    uri.to_file_path().map(|p| p.into_owned())
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let root = root_of(&params);
        let pull_configuration = params
            .capabilities
            .workspace
            .as_ref()
            .and_then(|w| w.configuration)
            .unwrap_or(false);
        let panel = params
            .capabilities
            .experimental
            .as_ref()
            .and_then(|e| e.get("tddPanel"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let work_done_progress = params
            .capabilities
            .window
            .as_ref()
            .and_then(|w| w.work_done_progress)
            .unwrap_or(false);
        let watch_files = params
            .capabilities
            .workspace
            .as_ref()
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|w| w.dynamic_registration)
            .unwrap_or(false);
        // `workspace/codeLens/refresh`: lenses say how far a requirement's
        // tasks are, which a run changes under an unchanged document.
        let lens_refresh = params
            .capabilities
            .workspace
            .as_ref()
            .and_then(|w| w.code_lens.as_ref())
            .and_then(|c| c.refresh_support)
            .unwrap_or(false);
        self.notify(Event::Initialize {
            lens_refresh,
            watch_files,
            root,
            options: params.initialization_options,
            pull_configuration,
            panel,
            work_done_progress,
        });
        Ok(InitializeResult {
            server_info: Some(ServerInfo {
                name: "tdd-orchestrator".to_string(),
                version: Some(env!("CARGO_PKG_VERSION").to_string()),
            }),
            capabilities: ServerCapabilities {
                text_document_sync: Some(TextDocumentSyncCapability::Options(
                    TextDocumentSyncOptions {
                        open_close: Some(true),
                        change: Some(TextDocumentSyncKind::INCREMENTAL),
                        save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                            include_text: Some(true),
                        })),
                        ..Default::default()
                    },
                )),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                definition_provider: Some(OneOf::Left(true)),
                code_lens_provider: Some(CodeLensOptions {
                    resolve_provider: Some(false),
                }),
                document_symbol_provider: Some(OneOf::Left(true)),
                completion_provider: Some(CompletionOptions {
                    trigger_characters: Some(vec![":".into(), " ".into(), ",".into()]),
                    ..Default::default()
                }),
                code_action_provider: Some(CodeActionProviderCapability::Options(
                    CodeActionOptions {
                        code_action_kinds: Some(vec![
                            CodeActionKind::QUICKFIX,
                            CodeActionKind::SOURCE,
                        ]),
                        ..Default::default()
                    },
                )),
                execute_command_provider: Some(ExecuteCommandOptions {
                    commands: commands::names(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        self.notify(Event::Initialized);
    }

    async fn shutdown(&self) -> Result<()> {
        // Runs this server started are cancelled (their child processes
        // killed) before the editor closes it.
        self.ask(Event::Shutdown).await
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        self.notify(Event::Open(params));
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        self.notify(Event::Change(params));
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        self.notify(Event::Save(params));
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        self.notify(Event::Close(params));
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        self.notify(Event::Configuration(params.settings));
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        self.ask(|tx| Event::Hover(params, tx)).await?
    }

    async fn goto_definition(
        &self,
        params: GotoDefinitionParams,
    ) -> Result<Option<GotoDefinitionResponse>> {
        self.ask(|tx| Event::Definition(params, tx)).await?
    }

    async fn document_symbol(
        &self,
        params: DocumentSymbolParams,
    ) -> Result<Option<DocumentSymbolResponse>> {
        self.ask(|tx| Event::Symbols(params, tx)).await?
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        self.ask(|tx| Event::Completion(params, tx)).await?
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        self.ask(|tx| Event::CodeAction(params, tx)).await?
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        self.ask(|tx| Event::CodeLens(params, tx)).await?
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        self.notify(Event::WatchedFiles(params));
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<Value>> {
        self.ask(|tx| Event::Execute(params, tx)).await?
    }
}
