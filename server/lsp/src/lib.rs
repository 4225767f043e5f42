//! The language server: the only crate that knows LSP. `server` is the thin
//! tower-lsp-server front, `session` the actor that owns all state, and
//! `features` the pure request logic over a document snapshot.

pub mod commands;
mod document;
pub mod ext;
mod features;
mod lenses;
#[doc(hidden)]
pub use features::panic_once_for_tests;
mod panel;
mod plan_commands;
mod run_commands;
mod server;
mod session;
pub mod settings;

use tokio::io::{AsyncRead, AsyncWrite};
use tower_lsp_server::{LspService, Server};

/// Serves LSP over any byte streams (stdio in production, a duplex pipe in tests).
pub async fn serve<I, O>(input: I, output: O)
where
    I: AsyncRead + Unpin,
    O: AsyncWrite,
{
    use ext::{EventsRequest, MetricsRequest, SnapshotRequest, TaskDetailRequest};
    use tower_lsp_server::ls_types::request::Request;
    let (service, socket) = LspService::build(server::Backend::new)
        .custom_method(SnapshotRequest::METHOD, server::Backend::snapshot)
        .custom_method(EventsRequest::METHOD, server::Backend::events)
        .custom_method(TaskDetailRequest::METHOD, server::Backend::task_detail)
        .custom_method(MetricsRequest::METHOD, server::Backend::metrics)
        .finish();
    Server::new(input, output, socket).serve(service).await;
}

/// Serves LSP on stdin/stdout. stdout carries JSON-RPC only.
pub async fn serve_stdio() {
    serve(tokio::io::stdin(), tokio::io::stdout()).await;
}
