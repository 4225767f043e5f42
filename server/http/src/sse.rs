//! The event log as server-sent events: the entries after the client's
//! `Last-Event-ID` (or `?after=`) from the store, then each new one as it
//! is committed. Every client reads the store itself, so a slow client never
//! loses an entry and a fast one never waits for it: the shared watch only
//! says "there is more".

use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tdd_engine::events::LoggedEvent;
use tdd_engine::view;
use tokio::sync::watch;

/// Entries read per store query.
const PAGE: usize = 500;
/// A client re-reads the store at least this often, even if no wake came.
const RECHECK: Duration = Duration::from_secs(1);

struct Cursor {
    root: PathBuf,
    after: i64,
    changes: watch::Receiver<i64>,
    pending: std::collections::VecDeque<LoggedEvent>,
}

/// The stream for one client.
pub fn stream(
    root: PathBuf,
    after: i64,
    changes: watch::Receiver<i64>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let cursor = Cursor {
        root,
        after,
        changes,
        pending: Default::default(),
    };
    let events = futures_util::stream::unfold(cursor, |mut cursor| async move {
        loop {
            if let Some(entry) = cursor.pending.pop_front() {
                cursor.after = entry.seq;
                return Some((Ok(to_sse(&entry)), cursor));
            }
            let (root, after) = (cursor.root.clone(), cursor.after);
            let page = tokio::task::spawn_blocking(move || read(&root, after))
                .await
                .unwrap_or_default();
            if page.is_empty() {
                // Wait for the store to grow (or re-check after a while).
                let _ = tokio::time::timeout(RECHECK, cursor.changes.changed()).await;
                continue;
            }
            cursor.pending.extend(page);
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn read(root: &std::path::Path, after: i64) -> Vec<LoggedEvent> {
    let Ok(Some(reader)) = view::open(root) else {
        return Vec::new();
    };
    match view::events_after(&reader, after, PAGE) {
        Ok(events) => events,
        Err(e) => {
            tracing::warn!("reading events of {}: {e}", root.display());
            Vec::new()
        }
    }
}

/// `id:` is the sequence number (so `Last-Event-ID` resumes after it),
/// `data:` the entry as JSON, the default event type so `onmessage` gets
/// every one.
fn to_sse(entry: &LoggedEvent) -> Event {
    Event::default()
        .id(entry.seq.to_string())
        .data(serde_json::to_string(entry).unwrap_or_default())
}
