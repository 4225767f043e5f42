//! What model-backed attempts used, summed per run, for `status` and
//! budgets (each attempt's are columns of `attempts`, see `runs`).

use rusqlite::params;

use super::error::{At, Result};
use super::runs::RunId;
use super::types::PrdId;
use tdd_workers::usage::Usage;

/// A PRD's model usage per run, oldest run first; runs without any are left out.
pub(super) fn by_run(
    conn: &rusqlite::Connection,
    db: &std::path::Path,
    prd_id: PrdId,
) -> Result<Vec<(RunId, Usage)>> {
    conn.prepare_cached(
        "SELECT a.run_id, SUM(a.model_calls), SUM(a.tokens_in), SUM(a.tokens_out),
                SUM(a.tokens_cached), SUM(a.latency_ms), SUM(a.cost_usd),
                COUNT(a.cost_usd) = COUNT(*)
         FROM attempts a JOIN runs r ON r.id = a.run_id
         WHERE r.prd_id = ?1 AND (a.tokens_in IS NOT NULL OR a.tokens_out IS NOT NULL)
         GROUP BY a.run_id ORDER BY a.run_id",
    )
    .and_then(|mut stmt| {
        stmt.query_map(params![prd_id], |row| {
            let all_priced: bool = row.get(7)?;
            let cost: Option<f64> = row.get(6)?;
            Ok((
                row.get(0)?,
                Usage {
                    calls: count(row, 1)? as u32,
                    input_tokens: count(row, 2)?,
                    output_tokens: count(row, 3)?,
                    cached_tokens: count(row, 4)?,
                    latency_ms: count(row, 5)?,
                    cost_usd: cost.filter(|_| all_priced),
                },
            ))
        })?
        .collect()
    })
    .at(db)
}

/// A non-negative count column, 0 when NULL.
pub(super) fn count(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<u64> {
    Ok(row.get::<_, Option<i64>>(index)?.unwrap_or(0).max(0) as u64)
}
