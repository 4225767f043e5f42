//! The one task that talks to the client on the session's behalf, in the
//! order the session queued its messages.

use std::time::Duration;

use tokio::sync::mpsc;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::*;

use super::Outgoing;
use crate::run_commands;

pub(super) async fn send_outgoing(client: Client, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
    // Tokens the client accepted; steps of any other are dropped.
    let mut live = std::collections::HashSet::new();
    while let Some(message) = rx.recv().await {
        match message {
            Outgoing::Diagnostics(uri, diags, version) => {
                client.publish_diagnostics(uri, diags, version).await
            }
            Outgoing::Message(kind, text) => client.show_message(kind, text).await,
            Outgoing::Event(event) => {
                client
                    .send_notification::<crate::ext::EventNotification>(*event)
                    .await
            }
            Outgoing::Progress(token, step) => send_progress(&client, &mut live, token, step).await,
            Outgoing::RefreshLenses => {
                if let Err(e) = client.code_lens_refresh().await {
                    tracing::debug!("workspace/codeLens/refresh: {e}");
                }
            }
        }
    }
}

async fn send_progress(
    client: &Client,
    live: &mut std::collections::HashSet<String>,
    token: String,
    step: run_commands::Progress,
) {
    use run_commands::Progress;
    let value = match step {
        Progress::Begin { title, message } => {
            let create = client.create_work_done_progress(ProgressToken::String(token.clone()));
            match tokio::time::timeout(Duration::from_secs(5), create).await {
                Ok(Ok(())) => {}
                _ => {
                    tracing::info!("the client did not create progress token {token}");
                    return;
                }
            }
            live.insert(token.clone());
            WorkDoneProgress::Begin(WorkDoneProgressBegin {
                title,
                message: Some(message),
                percentage: Some(0),
                cancellable: Some(false),
            })
        }
        Progress::Report {
            message,
            percentage,
        } if live.contains(&token) => WorkDoneProgress::Report(WorkDoneProgressReport {
            message: Some(message),
            percentage,
            cancellable: Some(false),
        }),
        Progress::End { message } if live.remove(&token) => {
            WorkDoneProgress::End(WorkDoneProgressEnd {
                message: Some(message),
            })
        }
        _ => return,
    };
    client
        .send_notification::<notification::Progress>(ProgressParams {
            token: ProgressToken::String(token),
            value: ProgressParamsValue::WorkDone(value),
        })
        .await;
}
