//! Streaming (server-sent events) in both dialects against the fake
//! server's SSE mode: cut streams and malformed events are retried, a
//! stream that keeps breaking is a provider outage, and usage and latency
//! are counted as on the JSON path.

use super::super::*;

fn a_cut_stream_is_retried(dialect: ApiDialect, name: &str) {
    let server = FakeModel::start(Config::with_key(API_KEY)).unwrap();
    server.push(Fault::CutStream { after_events: 3 });
    server.push(write_file(TEST_FILE, RED_TEST));
    server.push(Fault::MalformedJson);
    server.push(finish("done"));
    let request = request(name, &[TEST_FILE]);
    let mut worker = worker(&server, dialect);

    let report = worker.perform(&request).unwrap();

    assert!(report.summary.starts_with("done"), "{}", report.summary);
    assert_eq!(read(&request.worktree, TEST_FILE), RED_TEST);
    let requests = server.requests();
    assert_eq!(requests.len(), 4, "cut, retried, malformed, retried");
    assert!(requests.iter().all(|r| r.body["stream"] == true));
    assert_eq!(server.remaining(), 0);
    let usage = report.usage.unwrap();
    assert_eq!(usage.calls, 2, "only the complete replies count");
}

#[test]
fn an_anthropic_stream_cut_short_or_malformed_is_retried() {
    a_cut_stream_is_retried(ApiDialect::Anthropic, "api-cut-anthropic");
}

#[test]
fn an_openai_chat_stream_cut_short_or_malformed_is_retried() {
    a_cut_stream_is_retried(ApiDialect::OpenAiChat, "api-cut-openai");
}

#[test]
fn a_stream_cut_on_every_try_is_a_provider_outage() {
    for (dialect, name) in [
        (ApiDialect::Anthropic, "api-cut-outage-a"),
        (ApiDialect::OpenAiChat, "api-cut-outage-o"),
    ] {
        let server = FakeModel::start(Config::with_key(API_KEY)).unwrap();
        for _ in 0..3 {
            server.push(Fault::CutStream { after_events: 2 });
        }
        server.push(finish("never read"));
        let request = request(name, &[TEST_FILE]);
        let mut worker = worker(&server, dialect);

        let error = worker.perform(&request).unwrap_err();

        match error {
            WorkerError::ProviderOutage(message) => assert!(
                message.contains("stream") && message.contains("3 tries"),
                "{message}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(server.requests().len(), 3);
        assert_eq!(server.remaining(), 1, "the reply is still scripted");
    }
}

#[test]
fn usage_and_latency_are_counted_streaming_or_not() {
    for dialect in [ApiDialect::Anthropic, ApiDialect::OpenAiChat] {
        for stream in [true, false] {
            let server = FakeModel::start(Config::with_key(API_KEY)).unwrap();
            server.push(
                write_file(TEST_FILE, RED_TEST)
                    .with_usage(100, 20, 5)
                    .with_delay_ms(40),
            );
            server.push(finish("done").with_usage(50, 10, 0));
            let request = request("api-usage", &[TEST_FILE]);
            let mut worker = worker_with(&server, dialect, |c| c.stream = stream);

            let report = worker.perform(&request).unwrap();

            let usage = report.usage.unwrap();
            let what = format!("{dialect:?} stream={stream}: {usage:?}");
            assert_eq!(usage.calls, 2, "{what}");
            assert_eq!(usage.input_tokens, 155, "{what}");
            assert_eq!(usage.output_tokens, 30, "{what}");
            assert_eq!(usage.cached_tokens, 5, "{what}");
            assert!(usage.latency_ms >= 40, "{what}");
            assert_eq!(report.model.as_deref(), Some("fake-model-1"));
        }
    }
}
