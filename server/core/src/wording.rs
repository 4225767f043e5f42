//! Vague or unmeasurable wording, and measurable targets (a number with a unit).

use crate::text::Span;

/// Phrases that make a requirement unmeasurable, with a hint for each.
pub const VAGUE: &[(&str, &str)] = &[
    ("fast", "state a time limit, e.g. `within 200 ms`"),
    ("quick", "state a time limit, e.g. `within 2 s`"),
    ("quickly", "state a time limit, e.g. `within 2 s`"),
    ("slow", "state a time limit"),
    ("responsive", "state a response time, e.g. `within 100 ms`"),
    (
        "user-friendly",
        "name the observable behaviour a user relies on",
    ),
    (
        "easy",
        "name the observable behaviour or the number of steps",
    ),
    (
        "easily",
        "name the observable behaviour or the number of steps",
    ),
    (
        "simple",
        "name the observable behaviour or the number of steps",
    ),
    (
        "intuitive",
        "name the observable behaviour a user relies on",
    ),
    (
        "robust",
        "name the failure it must survive and what happens then",
    ),
    ("reliable", "state an availability or error-rate target"),
    (
        "scalable",
        "state the load it must handle, e.g. `1,000 requests/s`",
    ),
    ("efficient", "state a resource or time budget"),
    ("flexible", "name the variations it must support"),
    ("seamless", "name the observable behaviour"),
    ("seamlessly", "name the observable behaviour"),
    ("secure", "name the threat and the required control"),
    ("modern", "name the concrete requirement"),
    ("optimal", "state the target value"),
    ("etc.", "list every case explicitly"),
    ("etc", "list every case explicitly"),
    ("and/or", "say `and` or `or`, or list the combinations"),
    (
        "as appropriate",
        "state the rule that decides what is appropriate",
    ),
    ("as needed", "state the condition"),
    ("as required", "state the condition"),
    ("if possible", "say whether it is required"),
    ("where possible", "say whether it is required"),
    ("if necessary", "state the condition"),
    ("appropriate", "state the rule that decides"),
    ("reasonable", "state the limit"),
    ("sufficient", "state the amount"),
    ("adequate", "state the amount"),
    ("various", "list them"),
    ("several", "give the number"),
    ("tbd", "decide it, or move it to an open-questions section"),
    ("tbc", "decide it, or move it to an open-questions section"),
    ("todo", "decide it, or move it to an open-questions section"),
    ("state-of-the-art", "name the concrete requirement"),
    ("best-in-class", "name the concrete requirement"),
];

/// Every vague phrase in `text` (outside backtick code spans): (span relative
/// to `text`, phrase as listed, hint). One pass: at each word start only the
/// phrases beginning with that letter are tried, longest first.
pub fn find_vague(text: &str) -> Vec<(Span, &'static str, &'static str)> {
    let buckets = buckets();
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut in_code = false;
    let mut previous: Option<char> = None;
    let mut found = Vec::new();
    let mut skip_to = 0;
    for (i, c) in lower.char_indices() {
        if c == '`' {
            in_code = !in_code;
        }
        let word_start = previous.is_none_or(|p| !is_word(p));
        previous = Some(c);
        if in_code || i < skip_to || !word_start || !c.is_ascii_alphabetic() {
            continue;
        }
        for &(phrase, hint) in &buckets[(bytes[i] - b'a') as usize] {
            let end = i + phrase.len();
            let boundary = lower[end.min(lower.len())..]
                .chars()
                .next()
                .is_none_or(|n| !is_word(n) || phrase.ends_with('.'));
            if lower[i..].starts_with(phrase) && boundary {
                found.push((Span::new(i, end), phrase, hint));
                skip_to = end;
                break;
            }
        }
    }
    found
}

/// `VAGUE` grouped by first letter, longest phrase first.
fn buckets() -> &'static [Vec<(&'static str, &'static str)>; 26] {
    static BUCKETS: std::sync::OnceLock<[Vec<(&'static str, &'static str)>; 26]> =
        std::sync::OnceLock::new();
    BUCKETS.get_or_init(|| {
        let mut buckets: [Vec<(&str, &str)>; 26] = Default::default();
        for &(phrase, hint) in VAGUE {
            buckets[(phrase.as_bytes()[0] - b'a') as usize].push((phrase, hint));
        }
        for bucket in &mut buckets {
            bucket.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        }
        buckets
    })
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '_' || c == '/'
}

const UNITS: &[&str] = &[
    "ms",
    "msec",
    "millisecond",
    "milliseconds",
    "s",
    "sec",
    "secs",
    "second",
    "seconds",
    "min",
    "mins",
    "minute",
    "minutes",
    "h",
    "hr",
    "hrs",
    "hour",
    "hours",
    "day",
    "days",
    "week",
    "weeks",
    "%",
    "percent",
    "b",
    "byte",
    "bytes",
    "kb",
    "kib",
    "mb",
    "mib",
    "gb",
    "gib",
    "tb",
    "rps",
    "qps",
    "tps",
    "fps",
    "hz",
    "req/s",
    "requests",
    "request",
    "users",
    "user",
    "connections",
    "concurrent",
    "records",
    "rows",
    "items",
    "files",
    "lines",
    "errors",
    "attempts",
    "retries",
    "times",
    "x",
    "ops",
    "operations",
    "transactions",
    "messages",
    "events",
    "sessions",
    "members",
    "books",
    "tasks",
    "workers",
    "nines",
    "mbps",
    "gbps",
    "kbps",
    "cpu",
    "cores",
    "µs",
    "us",
    "ns",
    "characters",
    "chars",
    "tokens",
    "pages",
    "steps",
    "clicks",
    "dollars",
    "usd",
    "€",
    "$",
];

/// True when `text` has a number followed by a unit (`200 ms`, `99.9%`, `1,000 requests`).
pub fn has_measurable_target(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // Digits inside a word or an id (`REQ-2`, `v2`, `utf8`) are not quantities.
        let inside_word = lower[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_');
        let preceded_by_currency = lower[..i].ends_with(['$', '€', '£']);
        while i < bytes.len() && (bytes[i].is_ascii_digit() || matches!(bytes[i], b'.' | b',')) {
            i += 1;
        }
        if inside_word {
            continue;
        }
        if preceded_by_currency || lower[i..].trim_start().starts_with(['%', '$', '€', '£']) {
            return true;
        }
        // The unit may follow after up to two words: "0 lost records", "10,000 concurrent users".
        let words = lower[i..]
            .split(|c: char| c.is_whitespace() || c == '\u{a0}')
            .filter(|w| !w.is_empty())
            .take(3);
        for word in words {
            let unit: String = word
                .chars()
                .take_while(|c| c.is_alphanumeric() || matches!(c, '/' | 'µ'))
                .collect();
            // `requests/s` counts as `requests`; `req/s` is listed whole.
            let base = unit.split('/').next().unwrap_or("");
            if UNITS.contains(&unit.as_str()) || UNITS.contains(&base) {
                return true;
            }
            if word.starts_with(|c: char| c.is_ascii_digit()) {
                break;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vague_words_have_their_own_range() {
        let text = "The page SHALL be fast and user-friendly, etc. See `fast_path`.";
        let found = find_vague(text);
        let words: Vec<&str> = found.iter().map(|(s, _, _)| s.slice(text)).collect();
        assert_eq!(words, ["fast", "user-friendly", "etc."]);
    }

    #[test]
    fn longest_phrase_wins() {
        let found = find_vague("Retry as appropriate.");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1, "as appropriate");
    }

    #[test]
    fn targets() {
        assert!(has_measurable_target("p95 latency under 200 ms"));
        assert!(has_measurable_target("99.9% availability"));
        assert!(has_measurable_target("handles 1,000 requests per second"));
        assert!(!has_measurable_target("The system shall be fast"));
        assert!(!has_measurable_target("Version 2 of the API"));
        assert!(has_measurable_target(
            "A restart SHALL lose 0 loan records."
        ));
        assert!(has_measurable_target("under 200ms"));
        assert!(has_measurable_target("scales to 1,000 requests/s"));
        assert!(has_measurable_target("costs at most 5 € per month"));
        assert!(has_measurable_target("costs at most $5 per month"));
        assert!(!has_measurable_target(
            "Loans for REQ-2 members SHALL be kept."
        ));
        assert!(!has_measurable_target("Use UTF8 and HTTP2 everywhere."));
    }
}
