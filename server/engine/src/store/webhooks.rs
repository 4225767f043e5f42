//! Webhook delivery state (migration 5): a cursor per receiver and a log
//! of attempts.

use rusqlite::{OptionalExtension, params};

use super::error::{At, Result};
use super::{Seq, WriteTx};

/// One delivery attempt, as `webhooks log` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRow {
    pub id: i64,
    /// The receiver: a hash of its URL.
    pub hook: String,
    /// Its URL's scheme, host and port.
    pub target: String,
    pub seq: Seq,
    pub kind: String,
    pub delivery_id: String,
    pub attempt: u32,
    pub at: String,
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// What to record of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery<'a> {
    pub hook: &'a str,
    pub target: &'a str,
    pub seq: Seq,
    pub kind: &'a str,
    pub delivery_id: &'a str,
    pub attempt: u32,
    pub status: Option<u16>,
    pub error: Option<&'a str>,
}

pub(super) fn cursor(
    conn: &rusqlite::Connection,
    db: &std::path::Path,
    hook: &str,
) -> Result<Option<Seq>> {
    conn.prepare_cached("SELECT delivered FROM webhook_cursors WHERE hook = ?1")
        .and_then(|mut stmt| stmt.query_row([hook], |r| r.get(0)).optional())
        .at(db)
}

pub(super) fn deliveries(
    conn: &rusqlite::Connection,
    db: &std::path::Path,
    limit: usize,
) -> Result<Vec<DeliveryRow>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    conn.prepare_cached(
        "SELECT id, hook, target, seq, kind, delivery_id, attempt, at, status, error
         FROM webhook_deliveries ORDER BY id DESC LIMIT ?1",
    )
    .and_then(|mut stmt| {
        stmt.query_map([limit], |r| {
            Ok(DeliveryRow {
                id: r.get(0)?,
                hook: r.get(1)?,
                target: r.get(2)?,
                seq: r.get(3)?,
                kind: r.get(4)?,
                delivery_id: r.get(5)?,
                attempt: r.get(6)?,
                at: r.get(7)?,
                status: r.get(8)?,
                error: r.get(9)?,
            })
        })?
        .collect()
    })
    .at(db)
}

impl WriteTx<'_> {
    /// Moves the receiver's cursor to `seq` (never back).
    pub fn set_webhook_cursor(&self, hook: &str, seq: Seq) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO webhook_cursors (hook, delivered) VALUES (?1, ?2)
                 ON CONFLICT (hook) DO UPDATE SET delivered = max(delivered, excluded.delivered)",
            )
            .and_then(|mut stmt| stmt.execute(params![hook, seq]))
            .at(self.path)?;
        Ok(())
    }

    pub fn record_delivery(&self, delivery: &NewDelivery<'_>) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO webhook_deliveries (hook, target, seq, kind, delivery_id, attempt, at, status, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    delivery.hook,
                    delivery.target,
                    delivery.seq,
                    delivery.kind,
                    delivery.delivery_id,
                    delivery.attempt,
                    self.now,
                    delivery.status,
                    delivery.error,
                ])
            })
            .at(self.path)?;
        Ok(())
    }
}
