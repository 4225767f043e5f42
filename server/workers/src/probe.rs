//! [`TestProbe`]: how a worker may run the task's tests itself while it
//! works (the API worker's `run_tests` tool). Only informative for the
//! worker: the engine still runs the tests after the attempt and judges the
//! stage from its own run.

use std::path::Path;
use std::time::Duration;

use tdd_core::config::Layout;
use tdd_gates::report::TestReport;

use crate::process::CancelToken;
use crate::testrun::run_tests;

/// The project's test command, limited to the task's test files, with the
/// run's environment, time limit and cancel token. Cheap to clone.
#[derive(Clone, Debug)]
pub struct TestProbe {
    pub layout: Layout,
    /// The task's test files, relative to the worktree: what is run.
    pub test_files: Vec<String>,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    pub cancel: CancelToken,
}

impl TestProbe {
    pub fn new(layout: Layout, test_files: Vec<String>) -> TestProbe {
        TestProbe {
            layout,
            test_files,
            env: Vec::new(),
            timeout: Duration::from_secs(600),
            cancel: CancelToken::default(),
        }
    }

    /// Runs the task's tests in `worktree` and returns the parsed report,
    /// or why there is none (the runner could not start, timed out, or
    /// printed nothing readable).
    pub fn run(&self, worktree: &Path) -> Result<TestReport, String> {
        run_tests(
            &self.layout,
            worktree,
            &self.test_files,
            self.env.clone(),
            self.timeout,
            &self.cancel,
        )
        .map(|run| run.report)
        .map_err(|e| e.to_string())
    }
}
