//! Writing an attempt to the store: its row and its `stage.attempt` event,
//! in one transaction.

use std::sync::PoisonError;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tdd_core::plan::Task;
use tdd_gates::{Change, ChangeKind};

use super::{AttemptRecord, Recorder};
use crate::events::{Event, ReasonView};
use crate::store::runs::NewAttempt;

/// Writes one attempt to the store.
pub(super) fn persist(
    recorder: &Recorder,
    task: &Task,
    record: &AttemptRecord,
) -> Result<(), String> {
    let task_id = *recorder
        .task_ids
        .get(&task.key)
        .ok_or_else(|| format!("task `{}` has no id in the store's run", task.key))?;
    let mut evidence = record.evidence.clone();
    for reason in &record.reasons {
        evidence.push_str(&format!("\n- [{}] {}", reason.code, reason.message));
    }
    let attempt = NewAttempt {
        run_id: recorder.run_id,
        task_id,
        stage: record.stage.as_str().to_string(),
        attempt: record.attempt,
        worker: record.worker.clone(),
        started_at_ms: unix_ms(record.started_at),
        finished_at_ms: Some(unix_ms(record.finished_at)),
        exit_code: record.exit_code,
        test_summary: record.test_summary.clone(),
        failure_kind: record.failure_kind.map(|k| k.as_str().to_string()),
        diff_stats: Some(diff_stats(&record.changes)),
        evidence: Some(evidence),
        usage: record.usage,
        transcript: record
            .transcript
            .as_ref()
            .map(tdd_workers::transcript::pack),
    };
    let mut store = recorder
        .store
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let event = Event::StageJudged {
        run: recorder.run_id.0,
        stage: attempt.stage.clone(),
        attempt: attempt.attempt,
        worker: attempt.worker.clone(),
        passed: attempt.failure_kind.is_none(),
        failure_kind: attempt.failure_kind.clone(),
        evidence: record.evidence.clone(),
        reasons: record
            .reasons
            .iter()
            .map(|r| ReasonView {
                code: r.code.to_string(),
                message: r.message.clone(),
                subject: r.subject.clone(),
            })
            .collect(),
        usage: record.usage,
    };
    store
        .write(|tx| {
            tx.insert_attempt(&attempt)?;
            tx.log(recorder.prd_id, Some(&task.key), &event)
        })
        .map(|_| ())
        .map_err(|e: crate::store::StoreError| e.to_string())
}

fn unix_ms(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Files changed, by kind, and their paths.
fn diff_stats(changes: &[Change]) -> Value {
    let count = |f: fn(&ChangeKind) -> bool| changes.iter().filter(|c| f(&c.kind)).count();
    serde_json::json!({
        "files": changes.len(),
        "added": count(|k| matches!(k, ChangeKind::Added)),
        "modified": count(|k| matches!(k, ChangeKind::Modified)),
        "deleted": count(|k| matches!(k, ChangeKind::Deleted)),
        "renamed": count(|k| matches!(k, ChangeKind::Renamed { .. })),
        "paths": changes.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(),
    })
}

/// Failing tests and problems a stored report keeps, and the bytes of each
/// message: the panel shows why a stage failed; the full output is in
/// `.tdd/logs/`.
const STORED_FAILURES: usize = 50;
const STORED_MESSAGE_BYTES: usize = 4096;

/// A test report as an attempt stores it: the counts of its summary, plus
/// `failures` (the failing tests: id, kind, message, where) and `problems`
/// (collection errors and the like), each bounded.
pub fn report_json(report: &tdd_gates::report::TestReport) -> Value {
    let clip = |text: &str| -> String {
        if text.len() <= STORED_MESSAGE_BYTES {
            return text.to_string();
        }
        let mut end = STORED_MESSAGE_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &text[..end])
    };
    let mut json = serde_json::to_value(report.summary()).unwrap_or(Value::Null);
    let failures: Vec<Value> = report
        .tests
        .iter()
        .filter_map(|t| t.failure.as_ref().map(|f| (t, f)))
        .take(STORED_FAILURES)
        .map(|(test, failure)| {
            serde_json::json!({
                "id": test.id,
                "kind": failure.kind,
                "message": clip(&failure.message),
                "location": failure.location,
            })
        })
        .collect();
    let problems: Vec<Value> = report
        .problems
        .iter()
        .take(STORED_FAILURES)
        .map(|p| {
            serde_json::json!({
                "kind": p.kind,
                "scope": p.scope,
                "message": clip(&p.message),
                "location": p.location,
            })
        })
        .collect();
    if let Value::Object(map) = &mut json {
        map.insert("failures".into(), Value::Array(failures));
        map.insert("problem_list".into(), Value::Array(problems));
    }
    json
}
