//! The aider worker with the real aider (PyPI `aider-chat`, pinned, in
//! tests/agents/.venv-aider) against the fake model's solver: aider takes
//! no tools, so the model answers with whole files as text, and aider
//! writes them. The calc task goes RED → GREEN → VERIFY → REFACTOR → merge
//! on a real git repository with real pytest; a cheat is caught by the same
//! gates; a refused key is a provider outage. Without aider these tests
//! fail: a skipped check is not a pass.

use tdd_core::config::{AgentCli, SandboxMode};
use tdd_engine::pipeline::run_task;
use tdd_fake_model::{Cheat, Config, Dialect, FakeModel, Mode, Outcome, Solution, TaskSolution};
use tdd_workers::Sandbox;
use tdd_workers::transcript::TranscriptFormat;

use crate::agent_cli::{
    API_KEY, REFACTORED, a_cheat_is_caught_by, model_for, only_the_task_merged, worker,
};
use crate::support::*;

fn solution() -> Solution {
    Solution::new().with_task(
        TaskSolution::new(calc_task().key)
            .red(TEST_FILE, RED_TEST)
            .green(IMPL_FILE, REAL)
            .refactor(IMPL_FILE, REFACTORED),
    )
}

fn solver(mode: Mode) -> FakeModel {
    FakeModel::start(Config::with_key(API_KEY).with_mode(mode)).unwrap()
}

#[test]
fn aider_takes_a_task_to_merge() {
    let root = python_repo("aider-merge");
    let ctx = python_context(&root);
    let server = solver(Mode::Solver(solution()));
    let mut worker = worker(AgentCli::Aider, &server);

    let outcome = run_task(&ctx, &calc_task(), &mut worker);

    assert!(outcome.merged(), "{}", describe(&outcome));
    // aider kept its history and caches in the throwaway home. One model
    // call per worker stage, each recorded with aider's token counts and its
    // plain-text transcript, the key nowhere in it.
    for attempt in only_the_task_merged(&root, &outcome) {
        let usage = attempt.usage.unwrap_or_else(|| panic!("{attempt:?}"));
        assert_eq!(usage.calls, 1, "{usage:?}");
        assert!(
            usage.input_tokens > 100 && usage.output_tokens > 5,
            "{usage:?}"
        );
        assert_eq!(
            usage.cost_usd, None,
            "no price is known for a server of one's own"
        );
        let transcript = attempt.transcript.as_ref().expect("a transcript");
        assert_eq!(transcript.format, TranscriptFormat::Text);
        assert!(
            transcript.text.contains("Applied edit to"),
            "{}",
            transcript.text
        );
        assert!(!transcript.text.contains(API_KEY));
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "one call per worker stage");
    for request in &requests {
        assert_eq!(request.dialect, Some(Dialect::OpenAiChat));
        assert_eq!(request.outcome, Outcome::Solved);
        // litellm drops the `openai/` prefix aider is given.
        assert_eq!(request.body["model"], model_for(AgentCli::Aider));
        let bearer = format!("Bearer {API_KEY}");
        assert_eq!(request.header("authorization"), Some(bearer.as_str()));
        assert!(!request.raw_body.contains(API_KEY));
    }
}

/// GREEN attempt 1 rewrites the test too: aider writes what the model
/// says, the engine puts the test back and rejects the attempt, and the
/// honest retry merges. In the bubblewrap sandbox, as `sandbox = "auto"`
/// runs it where bwrap is installed.
#[test]
fn aider_editing_the_test_in_green_is_put_back_and_rejected() {
    let sandbox = Sandbox::choose(SandboxMode::Bwrap).expect("bwrap (scripts/test installs it)");
    a_cheat_is_caught_by(
        |server| worker(AgentCli::Aider, server).sandbox(sandbox),
        Cheat::EditTest,
        "pipeline.test_reverted",
        "aider-cheat-edit",
    );
}

/// aider prints the provider's refusal and exits 0; the worker reads it as
/// an outage, not as a finished stage.
#[test]
fn aider_with_a_refused_key_is_an_outage() {
    let root = python_repo("aider-refused-key");
    let server =
        FakeModel::start(Config::with_key("sk-another-key").with_mode(Mode::Solver(solution())))
            .unwrap();
    let mut worker = worker(AgentCli::Aider, &server);

    let outcome = run_task(&python_context(&root), &calc_task(), &mut worker);

    let message = red_outage(&outcome);
    assert!(
        message.contains("provider outage") && message.contains("AuthenticationError"),
        "{message}"
    );
    assert!(!message.contains(API_KEY), "{message}");
}
