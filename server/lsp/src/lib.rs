//! The language server: the only crate that knows LSP. `server` is the thin
//! tower-lsp-server front, `session` the actor that owns all state, and
//! `features` the pure request logic over a document snapshot.

pub mod commands;
mod document;
mod features;
#[doc(hidden)]
pub use features::panic_once_for_tests;
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
    let (service, socket) = LspService::new(server::Backend::new);
    Server::new(input, output, socket).serve(service).await;
}

/// Serves LSP on stdin/stdout. stdout carries JSON-RPC only.
pub async fn serve_stdio() {
    serve(tokio::io::stdin(), tokio::io::stdout()).await;
}
