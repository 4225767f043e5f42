//! The stages a worker performs (RED, GREEN, REFACTOR): attempts, the FIX
//! loop, restoring the worktree between attempts, and the stage commit.

use super::escape::Outside;
use super::*;

impl Run<'_> {
    /// RED, GREEN or REFACTOR, with the FIX loop.
    pub(super) fn worker_stage(
        &mut self,
        stage: Stage,
        worker: &mut dyn Worker,
    ) -> Result<StageEnd, Stop> {
        self.worker_stage_with(stage, worker, None)
    }

    /// As [`Run::worker_stage`], the first attempt told `fix` (what a later
    /// stage rejected) instead of the stage's own last violation.
    pub(super) fn worker_stage_with(
        &mut self,
        stage: Stage,
        worker: &mut dyn Worker,
        fix: Option<String>,
    ) -> Result<StageEnd, Stop> {
        let start = self
            .time(|t| &mut t.git, || head(&self.wt))
            .map_err(|e| Stop::infra(stage, e))?;
        let writable = self.writable(stage);
        // A resumed or re-queued task goes on after the attempts this run
        // already recorded: numbers continue, and only violations use up the
        // FIX budget (an outage or an interruption is not the task's fault).
        let prior = self.prior_attempts(stage);
        let mut feedback = fix.or(prior.feedback);
        let mut last = feedback.clone().unwrap_or_default();
        let first = prior.number + 1;
        let remaining = (self.ctx.max_fix_attempts + 1).saturating_sub(prior.violations);
        for attempt in first..first + remaining {
            let started_at = SystemTime::now();
            let mut record = AttemptRecord {
                stage,
                attempt,
                worker: worker.name().to_string(),
                started_at,
                finished_at: started_at,
                exit_code: None,
                test_summary: None,
                outcome: None,
                failure_kind: None,
                reasons: Vec::new(),
                evidence: String::new(),
                reverted: Vec::new(),
                changes: Vec::new(),
                usage: None,
                transcript: None,
            };
            let result = self.attempt(
                stage,
                start,
                attempt,
                &writable,
                &feedback,
                worker,
                &mut record,
            );
            record.finished_at = SystemTime::now();
            let result = match result {
                Ok(verdict) => verdict,
                Err(stop) => {
                    record.failure_kind = Some(stop.kind);
                    record.evidence = stop.message.clone();
                    self.push(record);
                    // Leave the worktree as the stage found it.
                    let _ = self.restore_since(start);
                    return Err(stop);
                }
            };
            let (verdict, changes) = result;
            record.outcome = Some(verdict.outcome);
            record.reasons = verdict.reasons.clone();
            record.evidence = verdict.evidence.clone();
            match verdict.outcome {
                Outcome::Passed | Outcome::AlreadyImplemented => {
                    let note = (verdict.outcome == Outcome::AlreadyImplemented)
                        .then_some(ALREADY_IMPLEMENTED);
                    // The commit first: it is what a resumed run trusts.
                    if let Err(stop) = self.commit(stage, &verdict.evidence, &changes, note) {
                        record.failure_kind = Some(stop.kind);
                        record.evidence = stop.message.clone();
                        self.push(record);
                        return Err(stop);
                    }
                    self.push(record);
                    return Ok(if verdict.outcome == Outcome::Passed {
                        StageEnd::Passed
                    } else {
                        StageEnd::AlreadyImplemented
                    });
                }
                Outcome::Infrastructure => {
                    record.failure_kind = Some(FailureKind::Infrastructure);
                    self.push(record);
                    let _ = self.restore_since(start);
                    return Err(Stop {
                        stage,
                        kind: FailureKind::Infrastructure,
                        message: describe(&verdict),
                    });
                }
                Outcome::Violation => {
                    record.failure_kind = Some(FailureKind::Violation);
                    self.push(record);
                    last = describe(&verdict);
                    feedback = Some(last.clone());
                    self.restore_since(start)
                        .map_err(|e| Stop::infra(stage, e))?;
                }
            }
        }
        Ok(StageEnd::Rejected(last))
    }

    /// One attempt: baseline, worker, diff, revert of forbidden edits, run, verdict.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn attempt(
        &mut self,
        stage: Stage,
        start: Oid,
        attempt: u32,
        writable: &[String],
        feedback: &Option<String>,
        worker: &mut dyn Worker,
        record: &mut AttemptRecord,
    ) -> Result<(Verdict, Vec<Change>), Stop> {
        let baseline = self.test_run(stage, &[])?;
        let before_reused = baseline.reused.clone();
        let before = baseline.report;
        // What the engine's own run left behind before the worker acted (a
        // `Cargo.lock` cargo wrote, say) is not the worker's change.
        let runner_made = self
            .time(|t| &mut t.diff, || self.snapshot(start))
            .map_err(|e| Stop::infra(stage, e))?;
        let request = StageRequest {
            task: self.task.clone(),
            stage,
            worktree: self.wt.path.clone(),
            writable: writable.to_vec(),
            feedback: feedback.clone(),
            attempt,
            tests: Some(tdd_workers::TestProbe {
                layout: self.ctx.layout.clone(),
                test_files: self.test_files.clone(),
                env: self.ctx.env.clone(),
                timeout: self.ctx.test_timeout,
                cancel: self.ctx.cancel.clone(),
            }),
            cancel: self.ctx.cancel.clone(),
            notice: self.ctx.on_notice.as_ref().map(|hook| {
                let (hook, key) = (hook.0.clone(), self.task.key.clone());
                Notice(Arc::new(move |message: &str| hook(&key, message)))
            }),
        };
        let root = self.ctx.project.root().to_path_buf();
        let worktrees = root.join(crate::git::WORKTREES_DIR);
        let outside =
            (!worker.confined_to_worktree()).then(|| Outside::snapshot(&root, &worktrees));
        let performed = self.time(|t| &mut t.worker, || worker.perform(&request));
        let escaped = outside.map_or_else(Vec::new, |o| o.escaped(&root, &worktrees));
        let denied = match performed {
            Ok(report) => {
                record.usage = report.usage;
                record.transcript = report.transcript;
                report.denied
            }
            Err(WorkerError::ProviderOutage(message)) => {
                // The calls made before the outage count (budgets, totals).
                record.usage = worker.spent();
                return Err(Stop {
                    stage,
                    kind: FailureKind::ProviderOutage,
                    message,
                });
            }
            Err(e @ WorkerError::Failed(_)) => {
                record.usage = worker.spent();
                return Err(Stop::infra(stage, e));
            }
        };
        let changes: Vec<Change> = self
            .time(|t| &mut t.diff, || self.wt.changes(start))
            .map_err(|e| Stop::infra(stage, e))?
            .into_iter()
            .filter(|c| !runner_made.contains(&(c.clone(), self.read_bytes(&c.path))))
            // An agent that runs the tests itself leaves caches: never its work.
            .filter(|c| !c.paths().into_iter().all(is_tool_cache))
            .collect();
        // The diff audit: whatever the worker could reach, GREEN and
        // REFACTOR may change only their writable paths. Anything else is put
        // back and fails the attempt, tests under their own reason. (RED's
        // gate rejects foreign changes itself, as `red.foreign_change`.)
        let mut forbidden = Vec::new();
        let mut outside = Vec::new();
        let audited = matches!(stage, Stage::Green | Stage::Refactor);
        for change in changes.iter().filter(|_| audited) {
            for path in change.paths() {
                if is_within(path, writable) {
                    continue;
                }
                if self.is_test_file(path) {
                    forbidden.push(path.to_string());
                } else {
                    outside.push(path.to_string());
                }
            }
        }
        forbidden.dedup();
        outside.dedup();
        let put_back: Vec<&String> = forbidden.iter().chain(&outside).collect();
        if !put_back.is_empty() {
            self.time(|t| &mut t.diff, || self.wt.restore_paths(&put_back))
                .map_err(|e| Stop::infra(stage, e))?;
        }
        let run = self.test_run(stage, &[])?;
        record.exit_code = match run.finished.ending {
            tdd_workers::process::Ending::Exited(code) => Some(code),
            _ => None,
        };
        record.test_summary = Some(report_json(&run.report));
        let evidence = Evidence {
            before: Some(before),
            after: run.report,
            sources: self.sources(&changes),
            // Only VERIFY reads what the files were before the task.
            base_sources: BTreeMap::new(),
            changes: changes.clone(),
            checks: Vec::new(),
        };
        let mut verdict = tdd_gates::judge(stage, &self.scope, &evidence);
        note_reused(
            &mut verdict,
            before_reused.as_deref(),
            run.reused.as_deref(),
        );
        if !forbidden.is_empty() && verdict.outcome != Outcome::Infrastructure {
            verdict.outcome = Outcome::Violation;
            verdict.reasons.push(Reason {
                code: "pipeline.test_reverted",
                message: format!(
                    "{} may not change tests; the engine put back {}: change only {}",
                    stage.as_str().to_uppercase(),
                    forbidden.join(", "),
                    writable.join(", ")
                ),
                subject: forbidden.first().cloned(),
            });
        }
        if !escaped.is_empty() && verdict.outcome != Outcome::Infrastructure {
            verdict.outcome = Outcome::Violation;
            verdict.reasons.push(Reason {
                code: "pipeline.escaped_worktree",
                message: format!(
                    "the worker wrote outside the task's worktree: {}",
                    escaped.join(", ")
                ),
                subject: None,
            });
        }
        if !denied.is_empty() && verdict.outcome != Outcome::Infrastructure {
            verdict.outcome = Outcome::Violation;
            for what in denied {
                verdict.reasons.push(Reason {
                    code: "worker.permission_denied",
                    message: format!("the worker's tools refused: {what}"),
                    subject: None,
                });
            }
        }
        if !outside.is_empty() && verdict.outcome != Outcome::Infrastructure {
            verdict.outcome = Outcome::Violation;
            verdict.reasons.push(Reason {
                code: "pipeline.outside_writable",
                message: format!(
                    "{} may change only {}; the engine put back {}",
                    stage.as_str().to_uppercase(),
                    if writable.is_empty() {
                        "nothing".to_string()
                    } else {
                        writable.join(", ")
                    },
                    outside.join(", ")
                ),
                subject: outside.first().cloned(),
            });
        }
        record.reverted = forbidden.into_iter().chain(outside).collect();
        record.changes = changes.clone();
        Ok((verdict, changes))
    }

    /// The changes since `start` with each file's bytes (`None`: gone).
    fn snapshot(&self, start: Oid) -> Result<Vec<(Change, Option<Vec<u8>>)>, GitError> {
        Ok(self
            .wt
            .changes(start)?
            .into_iter()
            .map(|c| {
                let bytes = self.read_bytes(&c.path);
                (c, bytes)
            })
            .collect())
    }

    fn read_bytes(&self, rel: &str) -> Option<Vec<u8>> {
        fs::read(self.wt.path.join(rel)).ok()
    }

    /// Puts every path changed since `start` back as it is at `HEAD` (which is
    /// `start`: nothing is committed within a stage).
    pub(super) fn restore_since(&self, start: Oid) -> Result<(), GitError> {
        self.time(
            |t| &mut t.diff,
            || {
                let changes = self.wt.changes(start)?;
                let paths: Vec<String> = changes
                    .iter()
                    .flat_map(|c| c.paths())
                    .map(str::to_string)
                    .collect();
                if paths.is_empty() {
                    return Ok(());
                }
                self.wt.restore_paths(&paths)
            },
        )
    }

    /// The text of the added and modified files, for the anti-stub checks.
    pub(super) fn sources(&self, changes: &[Change]) -> BTreeMap<String, String> {
        changes
            .iter()
            .filter(|c| c.kind != ChangeKind::Deleted)
            .filter_map(|c| {
                let text = fs::read_to_string(self.wt.path.join(&c.path)).ok()?;
                Some((c.path.clone(), text))
            })
            .collect()
    }

    /// The changed files as they were at `base` (a file `base` lacks is
    /// left out), for checks that must tell what the task wrote.
    pub(super) fn base_sources(&self, base: Oid, changes: &[Change]) -> BTreeMap<String, String> {
        let Ok(repo) = self.wt.repo() else {
            return BTreeMap::new();
        };
        let Ok(tree) = repo.find_commit(base).and_then(|c| c.tree()) else {
            return BTreeMap::new();
        };
        changes
            .iter()
            .filter_map(|c| {
                let entry = tree.get_path(std::path::Path::new(&c.path)).ok()?;
                let blob = repo.find_blob(entry.id()).ok()?;
                let text = String::from_utf8(blob.content().to_vec()).ok()?;
                Some((c.path.clone(), text))
            })
            .collect()
    }

    pub(super) fn commit(
        &mut self,
        stage: Stage,
        evidence: &str,
        changes: &[Change],
        outcome: Option<&str>,
    ) -> Result<(), Stop> {
        let mut paths: Vec<String> = changes
            .iter()
            .flat_map(|c| c.paths())
            .map(str::to_string)
            .collect();
        paths.sort();
        paths.dedup();
        let commit = StageCommit {
            task: self.task.key.clone(),
            title: Some(self.task.title.clone()),
            stage,
            evidence: evidence.to_string(),
            paths,
            allow_empty: true,
            outcome: outcome.map(str::to_string),
        };
        let oid = self
            .time(|t| &mut t.git, || self.wt.commit_stage(&commit))
            .map_err(|e| Stop::infra(stage, e))?;
        self.out.commits.push((stage, oid));
        Ok(())
    }
}

/// Says in the evidence which reports came from an earlier run on the same
/// files instead of a run of their own.
pub(super) fn note_reused(verdict: &mut Verdict, baseline: Option<&str>, judged: Option<&str>) {
    if let Some(source) = baseline {
        verdict
            .evidence
            .push_str(&format!("; baseline report reused from {source}"));
    }
    if let Some(source) = judged {
        verdict
            .evidence
            .push_str(&format!("; report reused from {source}, same files"));
    }
}

/// `path` is one of `writable`, or inside one that names a directory.
pub(super) fn is_within(path: &str, writable: &[String]) -> bool {
    writable.iter().any(|w| {
        let w = w.trim_end_matches('/');
        path == w
            || path
                .strip_prefix(w)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// Caches and build output tools leave in a project when an agent runs
/// them (`pytest`, `cargo test`, `npm`): not part of any stage's work, even
/// in a project whose `.gitignore` forgets them.
fn is_tool_cache(path: &str) -> bool {
    const ANYWHERE: &[&str] = &[".pytest_cache", "__pycache__", ".mypy_cache", ".ruff_cache"];
    const AT_ROOT: &[&str] = &["target", "node_modules", ".venv"];
    let mut parts = path.split('/');
    let first = parts.next().unwrap_or_default();
    AT_ROOT.contains(&first)
        || ANYWHERE.contains(&first)
        || parts.any(|p| ANYWHERE.contains(&p))
        || path.ends_with(".pyc")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_caches_are_not_work() {
        for cache in [
            ".pytest_cache/v/cache/lastfailed",
            "tests/__pycache__/test_a.cpython-311.pyc",
            "target/debug/deps/a",
            "node_modules/.bin/vitest",
            "src/x.pyc",
        ] {
            assert!(is_tool_cache(cache), "{cache}");
        }
        for work in [
            "src/target.py",
            "src/calc.py",
            "tests/test_cache.py",
            "docs/node_modules.md",
        ] {
            assert!(!is_tool_cache(work), "{work}");
        }
    }

    #[test]
    fn writable_paths_cover_their_directories_only() {
        let writable = ["src/calc.py".to_string(), "src/pkg/".to_string()];
        assert!(is_within("src/calc.py", &writable));
        assert!(is_within("src/pkg/mod.py", &writable));
        assert!(!is_within("src/calc.pyi", &writable));
        assert!(!is_within("src/pkgx/mod.py", &writable));
    }
}
