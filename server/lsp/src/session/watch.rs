//! PRD files changed on disk (`workspace/didChangeWatchedFiles`), and
//! asking the client to watch them.

use std::time::Duration;

use tower_lsp_server::ls_types::*;

use super::{Outgoing, Session};
use crate::document::Document;
use crate::features;

impl Session {
    /// PRD files changed on disk (not open in the editor, whose buffer wins)
    /// are validated again and their diagnostics published; a deleted one's
    /// are cleared.
    pub(super) fn watched_files(&mut self, params: DidChangeWatchedFilesParams) {
        let options = self.options();
        for change in params.changes {
            if self.documents.contains_key(&change.uri) {
                continue;
            }
            let Some(path) = change.uri.to_file_path().map(|p| p.into_owned()) else {
                continue;
            };
            if change.typ == FileChangeType::DELETED {
                let _ = self
                    .outbox
                    .send(Outgoing::Diagnostics(change.uri, Vec::new(), None));
                continue;
            }
            let matcher = self.matcher.clone();
            let outbox = self.outbox.clone();
            let options = options.clone();
            tokio::task::spawn_blocking(move || {
                let Ok(bytes) = std::fs::read(&path) else {
                    return;
                };
                if bytes.len() > options.max_bytes {
                    return;
                }
                let text = String::from_utf8_lossy(&bytes).into_owned();
                if !matcher.is_prd(Some(&path), &text) {
                    return;
                }
                let mut doc = Document::new(path.display().to_string(), text, 0, true);
                let analysis = doc.analysis(&options);
                let diagnostics = features::diagnostics(&doc, &change.uri, &analysis);
                let _ = outbox.send(Outgoing::Diagnostics(change.uri, diagnostics, None));
            });
        }
    }

    /// Asks the client to send `workspace/didChangeWatchedFiles` for PRD
    /// files, when it can be asked (dynamic registration).
    pub(super) fn watch_prd_files(&self) {
        let client = self.client.clone();
        let globs = self.settings.prd_globs.clone();
        tokio::spawn(async move {
            let watchers = globs
                .into_iter()
                .map(|glob| FileSystemWatcher {
                    glob_pattern: GlobPattern::String(if glob.contains('/') {
                        glob
                    } else {
                        format!("**/{glob}")
                    }),
                    kind: None,
                })
                .collect();
            let options = DidChangeWatchedFilesRegistrationOptions { watchers };
            let registration = Registration {
                id: "tdd-prd-files".into(),
                method: "workspace/didChangeWatchedFiles".into(),
                register_options: serde_json::to_value(options).ok(),
            };
            let asked = client.register_capability(vec![registration]);
            match tokio::time::timeout(Duration::from_secs(5), asked).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::info!(%err, "the client did not watch PRD files"),
                Err(_) => tracing::info!("the client did not answer the file-watch registration"),
            }
        });
    }
}
