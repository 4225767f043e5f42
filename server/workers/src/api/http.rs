//! One model call over HTTP: a blocking reqwest client on rustls (ring),
//! retries with exponential backoff and jitter, `Retry-After` honoured, and
//! every way a provider can be unavailable mapped to
//! [`WorkerError::ProviderOutage`].

use std::io::Read;
use std::sync::{Mutex, Once, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use serde_json::Value;

use super::super::WorkerError;
use super::sse::SseParser;
use super::stream::Assembler;
use super::{ApiDialect, Backoff, ModelTurn};
use crate::Jitter;
use crate::process::CancelToken;

/// How an outage message says the provider could not be reached at all
/// (no connection), as opposed to one that answered with an error.
pub const CANNOT_CONNECT: &str = "cannot connect to ";

/// Whether an outage's message says no connection could be made.
pub fn is_unreachable(message: &str) -> bool {
    message.contains(CANNOT_CONNECT)
}

/// Longest part of an error body quoted in a message.
const MAX_ERROR_BODY: usize = 500;

/// rustls needs a process-wide crypto provider; ring is the one we build.
pub(crate) fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Another part of the process may have installed one already: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

pub(crate) struct Http {
    client: Client,
    max_retries: u32,
    backoff: Backoff,
    /// Where the backoff's jitter comes from: injected, so tests can fix it.
    jitter: Mutex<Jitter>,
}

/// Why one try failed, and whether trying again may help.
enum TryError {
    Retry {
        message: String,
        retry_after: Option<Duration>,
    },
    Outage(String),
    Failed(String),
}

impl Http {
    /// `headers` go on every request; they are marked sensitive, so they are
    /// never printed by reqwest's `Debug`.
    pub(crate) fn new(
        headers: Vec<(&'static str, String)>,
        timeout: Duration,
        max_retries: u32,
        backoff: Backoff,
    ) -> Result<Http, WorkerError> {
        install_crypto_provider();
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                WorkerError::Failed(format!(
                    "the value for HTTP header `{name}` has characters a header may not \
                     carry: check the API key for stray spaces or newlines"
                ))
            })?;
            value.set_sensitive(true);
            map.insert(HeaderName::from_static(name), value);
        }
        let client = Client::builder()
            .default_headers(map)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| WorkerError::Failed(format!("cannot build the HTTP client: {e}")))?;
        Ok(Http {
            client,
            max_retries,
            backoff,
            jitter: Mutex::new(Jitter::from_clock()),
        })
    }

    /// The same client with its jitter drawn from `jitter`.
    #[cfg(test)]
    pub(crate) fn with_jitter(mut self, jitter: Jitter) -> Http {
        self.jitter = Mutex::new(jitter);
        self
    }

    /// POSTs `body` as JSON and returns the JSON reply, retrying what may pass.
    pub(crate) fn post(
        &self,
        url: &str,
        body: &Value,
        cancel: &CancelToken,
    ) -> Result<Value, WorkerError> {
        self.post_timed(url, body, cancel).map(|(value, _)| value)
    }

    /// As [`Http::post`], with the time spent in HTTP exchanges (every try,
    /// the waits between tries left out).
    pub(super) fn post_timed(
        &self,
        url: &str,
        body: &Value,
        cancel: &CancelToken,
    ) -> Result<(Value, Duration), WorkerError> {
        self.exchange(url, body, cancel, &read_json)
    }

    /// POSTs a request that asks for a stream and assembles the events into
    /// a turn as they arrive. A cut, malformed or failed stream is retried
    /// like a 5xx. A server that answers with plain JSON anyway is read as
    /// JSON.
    pub(super) fn post_stream(
        &self,
        url: &str,
        body: &Value,
        dialect: ApiDialect,
        cancel: &CancelToken,
    ) -> Result<(Streamed, Duration), WorkerError> {
        self.exchange(url, body, cancel, &|response| {
            read_stream(response, dialect)
        })
    }

    fn exchange<T>(
        &self,
        url: &str,
        body: &Value,
        cancel: &CancelToken,
        read: &dyn Fn(Response) -> Result<T, TryError>,
    ) -> Result<(T, Duration), WorkerError> {
        let mut retry = 0;
        let mut spent = Duration::ZERO;
        loop {
            let started = Instant::now();
            let result = self.try_once(url, body, read);
            spent += started.elapsed();
            let (message, retry_after) = match result {
                Ok(value) => return Ok((value, spent)),
                Err(TryError::Failed(message)) => return Err(WorkerError::Failed(message)),
                Err(TryError::Outage(message)) => return Err(WorkerError::ProviderOutage(message)),
                Err(TryError::Retry {
                    message,
                    retry_after,
                }) => (message, retry_after),
            };
            if retry >= self.max_retries {
                let tries = match retry + 1 {
                    1 => "1 try".to_string(),
                    n => format!("{n} tries"),
                };
                return Err(WorkerError::ProviderOutage(format!(
                    "{message} (gave up after {tries}; the provider may be down or \
                     rate-limiting: try again later or raise max_retries)"
                )));
            }
            retry += 1;
            let unit = self
                .jitter
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .unit();
            let wait = self.backoff.wait(retry, retry_after, unit);
            if !sleep_unless_cancelled(wait, cancel) {
                // Not the provider's fault, not a verdict: the run is stopping.
                return Err(WorkerError::Failed(format!(
                    "cancelled while waiting {wait:?} to retry ({message})"
                )));
            }
        }
    }

    fn try_once<T>(
        &self,
        url: &str,
        body: &Value,
        read: &dyn Fn(Response) -> Result<T, TryError>,
    ) -> Result<T, TryError> {
        let response = self
            .client
            .post(url)
            .json(body)
            .send()
            .map_err(|e| TryError::Retry {
                message: describe_send_error(url, &e),
                retry_after: None,
            })?;
        let status = response.status();
        if status.is_success() {
            return read(response);
        }
        let retry_after = retry_after(&response);
        let detail = error_detail(response);
        let message = format!("{url} answered HTTP {status}: {detail}");
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => TryError::Outage(format!(
                "{message}; the API key was refused: check the key and its permissions"
            )),
            StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT => TryError::Retry {
                message,
                retry_after,
            },
            s if s.is_server_error() || s.as_u16() == 529 => TryError::Retry {
                message,
                retry_after,
            },
            _ => TryError::Failed(format!(
                "{message}; the request was rejected: check the model name and base URL"
            )),
        })
    }
}

fn read_json(response: Response) -> Result<Value, TryError> {
    let url = response.url().to_string();
    let text = response.text().map_err(|e| TryError::Retry {
        message: format!("reading the reply from {url} failed: {e}"),
        retry_after: None,
    })?;
    serde_json::from_str(&text).map_err(|e| TryError::Retry {
        message: format!("the reply from {url} is not valid JSON ({e})"),
        retry_after: None,
    })
}

/// A streamed reply: the assembled turn, or the JSON body of a server that
/// did not stream.
pub(super) enum Streamed {
    Turn(ModelTurn),
    Json(Value),
}

fn read_stream(response: Response, dialect: ApiDialect) -> Result<Streamed, TryError> {
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if is_json {
        return read_json(response).map(Streamed::Json);
    }
    let url = response.url().to_string();
    let retry = |problem: String| TryError::Retry {
        message: format!("the stream from {url} {problem}"),
        retry_after: None,
    };
    let mut response = response;
    let mut parser = SseParser::default();
    let mut turn = Assembler::new(dialect);
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = match response.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(retry(format!("broke off: {e}"))),
        };
        let events = parser
            .feed(&buffer[..n])
            .map_err(|e| retry(format!("is malformed: {e}")))?;
        for event in &events {
            turn.event(event)
                .map_err(|e| retry(format!("is malformed: {e}")))?;
        }
        // A server or proxy may hold the connection open after the end.
        if turn.done() {
            break;
        }
    }
    let cut = !turn.done() && parser.pending();
    turn.finish().map(Streamed::Turn).map_err(|e| {
        let e = if cut {
            format!("{e} (it stopped in the middle of an event)")
        } else {
            e
        };
        retry(format!("is incomplete: {e}"))
    })
}

fn describe_send_error(url: &str, e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("{url} did not answer in time")
    } else if e.is_connect() {
        format!("{CANNOT_CONNECT}{url}: check the base URL and the network")
    } else {
        format!("the request to {url} failed: {e}")
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by providers).
fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// The provider's error message when its body has one, else the raw body.
fn error_detail(response: Response) -> String {
    let text = response.text().unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text).ok().and_then(|v| {
        v["error"]["message"]
            .as_str()
            .or_else(|| v["message"].as_str())
            .map(str::to_owned)
    });
    let detail = message.unwrap_or(text);
    match detail.char_indices().nth(MAX_ERROR_BODY) {
        Some((cut, _)) => format!("{}…", &detail[..cut]),
        None => detail,
    }
}

impl Backoff {
    /// The wait before retry number `retry` (1-based): `Retry-After` when the
    /// provider gave one (up to `max_retry_after`), else `base · 2^(retry-1)`
    /// capped at `cap`, with jitter in [50 %, 100 %] from `unit` in [0, 1).
    pub(super) fn wait(&self, retry: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max_retry_after);
        }
        let exp = self
            .base
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16));
        let full = exp.min(self.cap);
        full / 2 + full.mul_f64(unit.clamp(0.0, 0.999_999) / 2.0)
    }
}

/// Sleeps `wait`, waking every 20 ms to look at `cancel`; false when it was
/// cancelled before the time was up.
fn sleep_unless_cancelled(wait: Duration, cancel: &CancelToken) -> bool {
    let until = Instant::now() + wait;
    loop {
        if cancel.is_cancelled() {
            return false;
        }
        let now = Instant::now();
        if now >= until {
            return true;
        }
        thread::sleep((until - now).min(Duration::from_millis(20)));
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod backoff_tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(300),
            max_retry_after: Duration::from_secs(5),
        };
        let mut jitter = Jitter::seeded(7);
        for retry in 1..=6 {
            let wait = backoff.wait(retry, None, jitter.unit());
            let full = (Duration::from_millis(100) * (1 << (retry - 1))).min(backoff.cap);
            assert!(wait >= full / 2 && wait <= full, "{retry}: {wait:?}");
        }
        let after = Some(Duration::from_secs(2));
        assert_eq!(backoff.wait(1, after, 0.3), Duration::from_secs(2));
        let long = Some(Duration::from_secs(600));
        assert_eq!(backoff.wait(1, long, 0.3), Duration::from_secs(5));
        // The jitter decides where in [50 %, 100 %] of the full wait it lands.
        assert_eq!(backoff.wait(1, None, 0.0), Duration::from_millis(50));
        assert_eq!(
            Jitter::seeded(42).unit(),
            Jitter::seeded(42).unit(),
            "the same seed, the same waits"
        );
    }
}
