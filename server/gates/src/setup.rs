//! A setup task's gate: after the engine wrote the manifest or the package
//! files, the test runner must still run and collect. Failing tests are not
//! setup's concern (no task's tests exist yet); a problem is (a file that no
//! longer loads, a package that does not build), and a crashed runner or a
//! timeout is infrastructure, as at every stage.
//!
//! | rule | code |
//! |---|---|
//! | no problem in the run | `setup.not_collected` |

use super::evidence::{describe_report, kind_label};
use super::{Evidence, Reason, Stage, TaskScope, Verdict, first_line, infrastructure};

pub(super) fn judge(evidence: &Evidence) -> Verdict {
    // No task test file: every crashed package is the environment's, as in VERIFY.
    if let Some(verdict) = infrastructure(Stage::Verify, &TaskScope::default(), evidence) {
        return verdict;
    }
    let reasons = evidence
        .after
        .problems
        .iter()
        .map(|problem| {
            let what = problem.scope.as_deref().unwrap_or("the test run");
            Reason::new(
                "setup.not_collected",
                format!(
                    "after setup the test runner cannot collect {what} ({}: {}); fix the \
                     project so its tests load, then retry the setup task",
                    kind_label(&problem.kind),
                    first_line(&problem.message)
                ),
            )
            .about(what)
        })
        .collect();
    Verdict::from_reasons(reasons, describe_report(&evidence.after))
}
