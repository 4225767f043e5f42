//! The panel protocol in the session: following the event log for a
//! client that opted in, and answering its requests.

use super::{Outgoing, PanelCall, Session, request_failed};
use crate::panel;

impl Session {
    /// Whether the client opted in to the panel protocol.
    pub(super) fn is_panel(&self) -> bool {
        self.panel_capability || self.settings.panel
    }

    /// Starts following the event log once the client is a panel and the
    /// workspace is known; stops when it no longer is.
    pub(super) fn follow_if_panel(&mut self) {
        match (&self.root, self.is_panel()) {
            (Some(root), true) if self.following.is_none() => {
                let outbox = self.outbox.clone();
                let lens_refresh = self.lens_refresh;
                self.following = Some(panel::follow(root.clone(), move |event| {
                    let moved = lenses_move(&event.event.kind());
                    let sent = outbox.send(Outgoing::Event(Box::new(event))).is_ok();
                    if sent && lens_refresh && moved {
                        let _ = outbox.send(Outgoing::RefreshLenses);
                    }
                    sent
                }));
            }
            (_, false) => self.following = None,
            _ => {}
        }
    }

    /// Answers a panel request on a blocking thread.
    pub(super) fn panel(&self, call: PanelCall) {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let Some(root) = root else {
                let error = || request_failed("open a workspace folder: the panel shows a project");
                match call {
                    PanelCall::Snapshot(reply) => drop(reply.send(Err(error()))),
                    PanelCall::Events(_, reply) => drop(reply.send(Err(error()))),
                    PanelCall::TaskDetail(_, reply) => drop(reply.send(Err(error()))),
                    PanelCall::Metrics(reply) => drop(reply.send(Err(error()))),
                }
                return;
            };
            let failed = |e: String| request_failed(&e);
            match call {
                PanelCall::Snapshot(reply) => {
                    let _ = reply.send(panel::snapshot(&root).map_err(failed));
                }
                PanelCall::Events(params, reply) => {
                    let _ = reply.send(panel::events(&root, &params).map_err(failed));
                }
                PanelCall::TaskDetail(params, reply) => {
                    let _ = reply.send(panel::task_detail(&root, &params).map_err(failed));
                }
                PanelCall::Metrics(reply) => {
                    let _ = reply.send(panel::metrics(&root).map_err(failed));
                }
            }
        });
    }
}

/// Log entries after which a requirement's lens ("1 failed · 1/3 merged",
/// "Run REQ-1 · N tasks") says something else.
fn lenses_move(kind: &str) -> bool {
    matches!(
        kind,
        "task.merged"
            | "task.failed"
            | "task.skipped"
            | "task.retry"
            | "task_cancelled"
            | "prd_decomposed"
            | "run.finished"
    )
}
