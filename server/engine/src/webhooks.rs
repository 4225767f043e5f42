//! Webhooks: each event of the log `POST`ed to the receivers of
//! `[[webhooks]]`, at least once, from whichever process runs the project's
//! run.
//!
//! Delivery reads the log from a per-receiver cursor in the store, so a
//! process killed mid-delivery leaves the rest to the next run. A failed
//! attempt is retried with exponential backoff and jitter; delivery runs on
//! a thread of its own and never holds up a run: at the run's end it gets a
//! moment to catch up while its receiver answers, not while it fails.
//!
//! Bodies are signed GitHub's way (`X-Tdd-Signature-256: sha256=<HMAC of
//! the body>` with the secret from `secret_env`) and carry a delivery id
//! that is the same on every retry (`X-Tdd-Delivery`), so a receiver can
//! drop duplicates. A receiver is named in the store by a hash of its URL
//! and shown by its scheme and host: URLs can hold secrets.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tdd_core::config::{WebhookConfig, WebhookFormat};

use crate::events::{Event, LoggedEvent};
use crate::store::webhooks::NewDelivery;
use crate::store::{Queries, Reader, Store};
use crate::view::{self, Follower};
use tdd_workers::Jitter;
use tdd_workers::outbound::{self, Posted, Poster};

/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Backoff between attempts of one event: doubling from the first, capped.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// At a run's end, how long to wait for delivery to make progress.
const PROGRESS_WINDOW: Duration = Duration::from_millis(750);
const MAX_DRAIN: Duration = Duration::from_secs(30);

/// A receiver, ready to send to.
struct Hook {
    /// Hash of the URL: the store's name for it.
    id: String,
    url: String,
    /// Scheme, host and port.
    target: String,
    events: Vec<String>,
    secret: Option<Vec<u8>>,
    format: WebhookFormat,
}

/// The store's name for a receiver URL.
pub fn hook_id(url: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in url.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// `https://hooks.example.com:8443`, without the path or query that may
/// hold a token.
pub fn target(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // user:password@host
    let host = authority.rsplit('@').next().unwrap_or(authority);
    format!("{scheme}://{host}")
}

/// Delivery on its own thread; [`Deliverer::finish`] ends it.
pub struct Deliverer {
    stop: Arc<AtomicBool>,
    draining: Arc<AtomicBool>,
    /// Attempts that succeeded, so a finish can see progress.
    delivered: Arc<AtomicU64>,
    done: mpsc::Receiver<()>,
}

/// Starts delivering for `root`'s webhooks, or `None` when there are none.
/// A receiver seen for the first time gets the events after `first_after`
/// (the log's end before the run began), not the project's history. A hook
/// whose secret variable is unset is left out with a warning (its events
/// wait in the log for a process that has it).
pub fn start(
    root: &Path,
    config: &[WebhookConfig],
    first_after: crate::store::Seq,
    warn: &dyn Fn(String),
) -> Option<Deliverer> {
    let hooks: Vec<Hook> = config
        .iter()
        .filter_map(|c| {
            let secret = match &c.secret_env {
                None => None,
                Some(var) => match std::env::var(var) {
                    Ok(value) if !value.is_empty() => Some(value.into_bytes()),
                    _ => {
                        warn(format!(
                            "webhook {}: ${var} is not set, so its events wait until a run has it",
                            target(&c.url)
                        ));
                        return None;
                    }
                },
            };
            Some(Hook {
                id: hook_id(&c.url),
                target: target(&c.url),
                url: c.url.clone(),
                events: c.events.clone(),
                secret,
                format: c.format,
            })
        })
        .collect();
    if hooks.is_empty() {
        return None;
    }
    let client = match Poster::new(ATTEMPT_TIMEOUT) {
        Ok(client) => client,
        Err(e) => {
            warn(format!("webhooks: {e}"));
            return None;
        }
    };
    let (tx, done) = mpsc::channel();
    let deliverer = Deliverer {
        stop: Arc::default(),
        draining: Arc::default(),
        delivered: Arc::default(),
        done,
    };
    let worker = Worker {
        first_after,
        root: root.to_path_buf(),
        hooks,
        client,
        stop: deliverer.stop.clone(),
        draining: deliverer.draining.clone(),
        delivered: deliverer.delivered.clone(),
        jitter: Jitter::from_clock(),
    };
    let spawned = std::thread::Builder::new()
        .name("tdd-webhooks".into())
        .spawn(move || {
            worker.run();
            let _ = tx.send(());
        });
    if let Err(e) = spawned {
        warn(format!("webhooks: could not start delivery: {e}"));
        return None;
    }
    Some(deliverer)
}

impl Deliverer {
    /// Lets delivery catch up while it makes progress (within a bound),
    /// then stops it. A receiver that fails or never answers does not hold
    /// the caller: what is left is delivered by the next run.
    pub fn finish(self) {
        self.draining.store(true, Ordering::Relaxed);
        let start = Instant::now();
        let mut seen = self.delivered.load(Ordering::Relaxed);
        loop {
            match self.done.recv_timeout(PROGRESS_WINDOW) {
                Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            let now = self.delivered.load(Ordering::Relaxed);
            if now == seen || start.elapsed() > MAX_DRAIN {
                self.stop.store(true, Ordering::Relaxed);
                return;
            }
            seen = now;
        }
    }
}

impl Drop for Deliverer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct Worker {
    first_after: crate::store::Seq,
    root: PathBuf,
    hooks: Vec<Hook>,
    client: Poster,
    stop: Arc<AtomicBool>,
    draining: Arc<AtomicBool>,
    delivered: Arc<AtomicU64>,
    jitter: Jitter,
}

/// Why a hook stopped for now.
enum Halt {
    /// Asked to stop, or draining and the receiver fails.
    Stop,
}

impl Worker {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn run(mut self) {
        let db = crate::planning::database_path(&self.root);
        let (Ok(mut store), Ok(reader)) = (Store::open(&db), Reader::open(&db)) else {
            tracing::warn!("webhooks: cannot open {}", db.display());
            return;
        };
        for hook in &self.hooks {
            if reader.webhook_cursor(&hook.id).ok().flatten().is_none() {
                let _ = store.write(|tx| tx.set_webhook_cursor(&hook.id, self.first_after));
            }
        }
        let mut follower = Follower::new(&self.root);
        while !self.stopped() {
            // Read before the pass: once draining is seen, the pass after it
            // sees every event the run wrote before asking.
            let draining = self.draining.load(Ordering::Relaxed);
            let mut pending = false;
            for i in 0..self.hooks.len() {
                match self.catch_up(i, &mut store, &reader) {
                    Ok(more) => pending |= more,
                    Err(Halt::Stop) => return,
                }
            }
            if !pending {
                if draining {
                    return;
                }
                follower.wait(Duration::from_millis(250));
            }
        }
    }

    /// Delivers hook `i`'s next page of events. True when more may wait.
    fn catch_up(&mut self, i: usize, store: &mut Store, reader: &Reader) -> Result<bool, Halt> {
        let id = self.hooks[i].id.clone();
        let after = reader.webhook_cursor(&id).ok().flatten().unwrap_or(0);
        let Ok(page) = view::events_after(reader, after, 100) else {
            return Ok(false);
        };
        let full = page.len() == 100;
        for entry in page {
            let wanted = {
                let hook = &self.hooks[i];
                hook.events.is_empty() || hook.events.contains(&entry.event.kind())
            };
            if wanted {
                self.deliver(i, &entry, store)?;
            }
            let _ = store.write(|tx| tx.set_webhook_cursor(&id, entry.seq));
        }
        Ok(full)
    }

    /// Sends one event until the receiver takes it (2xx), or until asked
    /// to stop.
    fn deliver(&mut self, i: usize, entry: &LoggedEvent, store: &mut Store) -> Result<(), Halt> {
        let hook = &self.hooks[i];
        let body = body(hook.format, entry);
        let delivery_id = format!("{}-{}", hook.id, entry.seq);
        let kind = entry.event.kind();
        let signature = hook.secret.as_ref().map(|secret| sign(secret, &body));
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1.. {
            if self.stopped() {
                return Err(Halt::Stop);
            }
            let hook = &self.hooks[i];
            let mut headers = vec![
                ("content-type", "application/json"),
                (
                    "user-agent",
                    concat!("tdd-orchestrator/", env!("CARGO_PKG_VERSION")),
                ),
                ("x-tdd-delivery", delivery_id.as_str()),
                ("x-tdd-event", kind.as_str()),
            ];
            if let Some(signature) = &signature {
                headers.push(("x-tdd-signature-256", signature));
            }
            // An error never names the URL (it may carry a token).
            let (status, error) = match self.client.post(&hook.url, &headers, body.clone()) {
                Posted::Answered(code) if (200..300).contains(&code) => (Some(code), None),
                Posted::Answered(code) => (
                    Some(code),
                    Some(format!(
                        "the receiver answered {}",
                        outbound::status_line(code)
                    )),
                ),
                Posted::Failed(why) => (None, Some(why)),
            };
            let record = NewDelivery {
                hook: &hook.id,
                target: &hook.target,
                seq: entry.seq,
                kind: &kind,
                delivery_id: &delivery_id,
                attempt,
                status,
                error: error.as_deref(),
            };
            let _ = store.write(|tx| tx.record_delivery(&record));
            if error.is_none() {
                self.delivered.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            if self.draining.load(Ordering::Relaxed) {
                return Err(Halt::Stop);
            }
            let jittered = backoff.mul_f64(0.5 + self.jitter.unit());
            if self.sleep(jittered) {
                return Err(Halt::Stop);
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        Ok(())
    }

    /// Sleeps `d` in short steps; true when asked to stop meanwhile.
    fn sleep(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        while Instant::now() < until {
            if self.stopped() || self.draining.load(Ordering::Relaxed) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
        }
        false
    }
}

/// `sha256=<hex HMAC-SHA256 of body>`.
pub fn sign(secret: &[u8], body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

fn body(format: WebhookFormat, entry: &LoggedEvent) -> String {
    match format {
        WebhookFormat::Json => serde_json::to_string(entry).unwrap_or_default(),
        WebhookFormat::Slack => serde_json::json!({ "text": slack_text(entry) }).to_string(),
    }
}

/// One line a person reads in a channel.
fn slack_text(entry: &LoggedEvent) -> String {
    let what = match &entry.event {
        Event::TaskMerged { .. } => "merged".to_string(),
        Event::TaskFailed { stage, reason, .. } => format!("failed at {stage}: {reason}"),
        Event::RunStarted { run, .. } => format!("run {run} started"),
        Event::RunFinished {
            run,
            status,
            merged,
            failed,
            ..
        } => {
            format!("run {run} {status}: {merged} merged, {failed} failed")
        }
        Event::BreakerTransition {
            scope, name, to, ..
        } => {
            format!("{scope} breaker {name} is {to}")
        }
        Event::StageJudged {
            stage,
            passed,
            evidence,
            ..
        } => {
            let verdict = if *passed { "passed" } else { "failed" };
            format!("{stage} {verdict}: {evidence}")
        }
        other => other.kind(),
    };
    let mut parts = vec!["tdd-orchestrator".to_string()];
    parts.extend(entry.prd.clone());
    parts.extend(entry.task.clone());
    parts.push(what);
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_drop_what_may_be_secret() {
        assert_eq!(
            target("https://hooks.slack.com/services/T000/B000/XXXX"),
            "https://hooks.slack.com"
        );
        assert_eq!(
            target("http://user:pw@127.0.0.1:9/x?token=1"),
            "http://127.0.0.1:9"
        );
    }

    #[test]
    fn the_signature_is_githubs_scheme() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
        assert_eq!(
            sign(b"key", "The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }
}
