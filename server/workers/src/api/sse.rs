//! Server-sent events (the `text/event-stream` format both dialects stream
//! in), parsed incrementally: bytes go in as they arrive, complete events
//! come out. Memory is bounded, and no input makes it panic.

/// Longest line, and longest event data, accepted.
const MAX_BYTES: usize = 16 * 1024 * 1024;

/// One dispatched event: its `event:` name, if any, and its `data:` lines
/// joined with newlines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// The parser's state between chunks.
#[derive(Debug, Default)]
pub(super) struct SseParser {
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
    event: Option<String>,
    data: String,
    has_data: bool,
}

impl SseParser {
    /// Feeds the next bytes of the stream and returns the events they
    /// complete. An error (a line that is not UTF-8, an oversized line or
    /// event) means the stream is malformed; the parser should be dropped.
    pub(super) fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, String> {
        let mut events = Vec::new();
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (head, tail) = rest.split_at(end);
            rest = &tail[1..];
            let line = if self.partial.is_empty() {
                self.line(head)?
            } else {
                self.partial.extend_from_slice(head);
                let whole = std::mem::take(&mut self.partial);
                self.line(&whole)?
            };
            if let Some(event) = line {
                events.push(event);
            }
        }
        if self.partial.len() + rest.len() > MAX_BYTES {
            return Err(format!(
                "a line of the event stream is longer than {MAX_BYTES} bytes"
            ));
        }
        self.partial.extend_from_slice(rest);
        Ok(events)
    }

    /// Something was received that no complete event carried yet: a stream
    /// that ends here was cut in the middle of an event.
    pub(super) fn pending(&self) -> bool {
        !self.partial.is_empty() || self.has_data || self.event.is_some()
    }

    /// Handles one line (without its `\n`); an empty line dispatches.
    fn line(&mut self, raw: &[u8]) -> Result<Option<SseEvent>, String> {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = std::str::from_utf8(raw)
            .map_err(|_| "a line of the event stream is not UTF-8".to_string())?;
        if line.is_empty() {
            let event = self.event.take();
            if !self.has_data {
                return Ok(None);
            }
            self.has_data = false;
            let data = std::mem::take(&mut self.data);
            return Ok(Some(SseEvent { event, data }));
        }
        if line.starts_with(':') {
            return Ok(None); // a comment (keep-alive)
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => {
                if self.data.len() + value.len() + 1 > MAX_BYTES {
                    return Err(format!(
                        "an event of the stream carries more than {MAX_BYTES} bytes"
                    ));
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            // `id`, `retry` and unknown fields do not matter here.
            _ => {}
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all(parser: &mut SseParser, chunks: &[&[u8]]) -> Vec<SseEvent> {
        chunks
            .iter()
            .flat_map(|c| parser.feed(c).unwrap())
            .collect()
    }

    #[test]
    fn reads_named_and_data_only_events_across_chunks() {
        let mut parser = SseParser::default();
        let events = all(
            &mut parser,
            &[
                b"event: message_start\r\nda",
                b"ta: {\"a\":1}\n\n: keep-alive\n\ndata: x\ndata:y\n",
                b"id: 3\nretry: 10\n\ndata: [DONE]\n\n",
            ],
        );
        assert_eq!(
            events,
            vec![
                SseEvent {
                    event: Some("message_start".to_string()),
                    data: "{\"a\":1}".to_string()
                },
                SseEvent {
                    event: None,
                    data: "x\ny".to_string()
                },
                SseEvent {
                    event: None,
                    data: "[DONE]".to_string()
                },
            ]
        );
        assert!(!parser.pending());
        assert!(parser.feed(b"data: half").unwrap().is_empty());
        assert!(parser.pending());
    }

    #[test]
    fn an_event_without_data_is_not_dispatched_and_bad_bytes_are_an_error() {
        let mut parser = SseParser::default();
        assert!(parser.feed(b"event: ping\n\n").unwrap().is_empty());
        assert!(parser.feed(b"data: \xff\xfe\n").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048),
                                       cut in 0usize..2048) {
            let mut parser = SseParser::default();
            let cut = cut.min(bytes.len());
            let _ = parser.feed(&bytes[..cut]);
            let _ = parser.feed(&bytes[cut..]);
            let _ = parser.pending();
        }

        #[test]
        fn chunking_does_not_change_the_events(
            lines in proptest::collection::vec("(event|data|id|:c)?: ?[a-z{}\\[\\] ]{0,8}", 0..20),
            cuts in proptest::collection::vec(0usize..400, 0..6),
        ) {
            let text = lines.join("\n") + "\n\n";
            let bytes = text.as_bytes();
            let whole = SseParser::default().feed(bytes).unwrap();
            let mut parser = SseParser::default();
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            points.sort();
            let mut pieces = Vec::new();
            let mut from = 0;
            for p in points {
                pieces.push(&bytes[from..p]);
                from = p;
            }
            pieces.push(&bytes[from..]);
            prop_assert_eq!(all(&mut parser, &pieces), whole);
        }
    }
}
