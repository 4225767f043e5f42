//! What a worker said and did in one attempt: the API worker's messages and
//! tool calls, an agent CLI's JSON event stream, a command's output. Kept
//! for the panel's task detail, so a user can see why an attempt went the
//! way it did.
//!
//! Before a transcript is stored it is redacted (the worker's own key, and
//! anything shaped like a credential: `Authorization` and API-key values,
//! bearer tokens, `sk-` keys), bounded (its head and tail kept), and
//! deflated.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Longest transcript kept, in bytes of text; a longer one keeps its first
/// three quarters and its last quarter of this.
pub const MAX_TEXT: usize = 512 * 1024;
/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TranscriptFormat {
    /// A JSON array of the messages sent to and received from the model
    /// API, in its dialect's shape (tool calls and results included).
    Messages,
    /// One JSON event per line (Claude Code's and Codex's `--json` streams).
    JsonLines,
    /// Plain text (a command worker's output, aider's).
    Text,
}

impl TranscriptFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            TranscriptFormat::Messages => "messages",
            TranscriptFormat::JsonLines => "json_lines",
            TranscriptFormat::Text => "text",
        }
    }

    pub fn parse(text: &str) -> Option<TranscriptFormat> {
        [
            TranscriptFormat::Messages,
            TranscriptFormat::JsonLines,
            TranscriptFormat::Text,
        ]
        .into_iter()
        .find(|f| f.as_str() == text)
    }
}

/// A worker's account of one attempt, as the worker produced it (with its
/// own secrets already redacted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transcript {
    pub format: TranscriptFormat,
    pub text: String,
}

impl Transcript {
    pub fn new(format: TranscriptFormat, text: impl Into<String>) -> Transcript {
        Transcript {
            format,
            text: text.into(),
        }
    }
}

/// A transcript ready for the store: redacted, bounded and deflated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packed {
    pub format: TranscriptFormat,
    pub deflated: Vec<u8>,
    /// Bytes of the redacted text before it was bounded.
    pub original_len: usize,
    pub truncated: bool,
}

/// Redacts, bounds and deflates `transcript`.
pub fn pack(transcript: &Transcript) -> Packed {
    let redacted = redact(&transcript.text, &[]);
    let original_len = redacted.len();
    let (text, truncated) = bound(&redacted, MAX_TEXT);
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(text.as_bytes());
    Packed {
        format: transcript.format,
        deflated: encoder.finish().unwrap_or_default(),
        original_len,
        truncated,
    }
}

/// The text of a stored transcript, or why it cannot be read.
pub fn unpack(deflated: &[u8]) -> Result<String, String> {
    let mut text = String::new();
    DeflateDecoder::new(deflated)
        .take(MAX_TEXT as u64 + 1024)
        .read_to_string(&mut text)
        .map_err(|e| format!("the stored transcript cannot be inflated: {e}"))?;
    Ok(text)
}

/// `text` cut to at most `max` bytes (plus a marker) at char boundaries:
/// the head and the tail, where an attempt starts and how it ended.
fn bound(text: &str, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text.to_string(), false);
    }
    let mut head = max * 3 / 4;
    while !text.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = text.len() - (max - head);
    while !text.is_char_boundary(tail) {
        tail += 1;
    }
    let cut = tail - head;
    (
        format!(
            "{}\n… [{cut} bytes of the transcript were left out] …\n{}",
            &text[..head],
            &text[tail..]
        ),
        true,
    )
}

/// Names whose value is a credential, matched case-insensitively when
/// followed by `:` or `=` (quotes and spaces allowed around them).
const SECRET_NAMES: [&str; 6] = [
    "authorization",
    "x-api-key",
    "api-key",
    "api_key",
    "apikey",
    "proxy-authorization",
];
/// Prefixes of bare keys: OpenAI's and Anthropic's `sk-…`.
const KEY_PREFIX: &str = "sk-";
/// The shortest run after `sk-` taken for a key (shorter is a word).
const MIN_KEY_TAIL: usize = 8;

/// `text` with every one of `secrets` (those of 8 bytes or more) and every
/// credential-shaped value replaced by [`REDACTED`].
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        out = out.replace(secret, REDACTED);
    }
    redact_shapes(&out)
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'+' | b'/' | b'=')
}

/// One left-to-right pass: a credential name's value, the word after
/// `Bearer `/`Basic `, and `sk-` keys become [`REDACTED`].
fn redact_shapes(text: &str) -> String {
    let bytes = text.as_bytes();
    let lower = text.to_ascii_lowercase();
    let lower = lower.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some((start, end)) = secret_at(bytes, lower, i)
            && end > start
        {
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = end;
            i = end;
            continue;
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

/// The byte range of a secret that a pattern starting at `i` names.
fn secret_at(bytes: &[u8], lower: &[u8], i: usize) -> Option<(usize, usize)> {
    let word_start = i == 0 || !is_token_byte(bytes[i - 1]);
    if !word_start {
        return None;
    }
    let rest = &lower[i..];
    for scheme in [&b"bearer "[..], &b"basic "[..]] {
        if rest.starts_with(scheme) {
            let start = i + scheme.len();
            return Some((start, token_end(bytes, start)));
        }
    }
    if rest.starts_with(KEY_PREFIX.as_bytes()) {
        let end = token_end(bytes, i);
        return (end - i - KEY_PREFIX.len() >= MIN_KEY_TAIL).then_some((i, end));
    }
    for name in SECRET_NAMES {
        if !rest.starts_with(name.as_bytes()) {
            continue;
        }
        let mut j = i + name.len();
        // `"authorization": "…"`, `Authorization: …`, `api_key=…`.
        j = skip(bytes, j, |b| b == b'"' || b == b'\'' || b == b' ');
        if j >= bytes.len() || !matches!(bytes[j], b':' | b'=') {
            continue;
        }
        j = skip(bytes, j + 1, |b| b == b'"' || b == b'\'' || b == b' ');
        // A scheme word stays readable: `Authorization: Bearer [redacted]`.
        let value = &lower[j..];
        if value.starts_with(b"bearer ") || value.starts_with(b"basic ") {
            let start = j + value.iter().position(|&b| b == b' ').unwrap_or(0) + 1;
            return Some((start, token_end(bytes, start)));
        }
        return Some((j, token_end(bytes, j)));
    }
    None
}

fn skip(bytes: &[u8], mut j: usize, what: impl Fn(u8) -> bool) -> usize {
    while j < bytes.len() && what(bytes[j]) {
        j += 1;
    }
    j
}

/// Where the token at `start` ends; a sentence's full stop is not part of it.
fn token_end(bytes: &[u8], start: usize) -> usize {
    let mut end = skip(bytes, start, is_token_byte);
    while end > start && bytes[end - 1] == b'.' {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn credentials_are_redacted_and_the_rest_stays() {
        let cases = [
            (
                "Authorization: Bearer abc.def-123",
                "Authorization: Bearer [redacted]",
            ),
            (
                r#"{"authorization": "sk-ant-0123456789"}"#,
                r#"{"authorization": "[redacted]"}"#,
            ),
            ("x-api-key=hunter2hunter2 next", "x-api-key=[redacted] next"),
            (
                "Incorrect API key provided: sk-proj-ABCDEF1234567890.",
                "Incorrect API key provided: [redacted].",
            ),
            (
                "the task-list and sk-short stay",
                "the task-list and sk-short stay",
            ),
            ("risk-management is a word", "risk-management is a word"),
            ("no secrets here", "no secrets here"),
        ];
        for (text, want) in cases {
            assert_eq!(redact(text, &[]), want, "{text}");
        }
        assert_eq!(
            redact("key=my-own-secret-value!", &["my-own-secret-value"]),
            "key=[redacted]!"
        );
    }

    #[test]
    fn a_long_transcript_keeps_its_head_and_tail() {
        let text = format!("{}{}", "a".repeat(MAX_TEXT), "é".repeat(1000));
        let packed = pack(&Transcript::new(TranscriptFormat::Text, text.clone()));
        assert!(packed.truncated);
        assert_eq!(packed.original_len, text.len());
        assert!(packed.deflated.len() < 10_000, "{}", packed.deflated.len());
        let back = unpack(&packed.deflated).unwrap();
        assert!(
            back.starts_with("aaaa") && back.ends_with("éé"),
            "{}",
            &back[..20]
        );
        assert!(back.contains("bytes of the transcript were left out"));
        assert!(back.len() < MAX_TEXT + 100);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(unpack(b"not deflate at all \xff\xfe").is_err());
    }

    proptest! {
        /// A secret placed anywhere in any text never survives redaction,
        /// and packing round-trips what is left.
        #[test]
        fn a_known_secret_never_survives(
            before in "\\PC{0,40}",
            after in "\\PC{0,40}",
            secret in "[A-Za-z0-9_-]{8,24}",
        ) {
            let text = format!("{before}{secret}{after}");
            let redacted = redact(&text, &[&secret]);
            prop_assert!(!redacted.contains(&secret));
            let packed = pack(&Transcript::new(TranscriptFormat::Text, redacted.clone()));
            prop_assert_eq!(unpack(&packed.deflated).unwrap(), redact(&redacted, &[]));
        }

        #[test]
        fn redacting_twice_changes_nothing_more(text in "\\PC{0,200}") {
            let once = redact(&text, &[]);
            prop_assert_eq!(redact(&once, &[]), once.clone());
        }
    }
}
