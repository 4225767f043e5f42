//! Pass 3: acceptance criteria → test cases. Each criterion gives one named
//! test with its precondition, action and the outcome to assert; error codes
//! named in backticks (`book_unavailable`) become the expected errors.

use super::TestCase;
use super::tasks::slug;
use crate::config::Language;
use crate::ears::{CriterionForm, classify};
use crate::model::Criterion;

pub(super) fn test_case(criterion: &Criterion, language: Language) -> TestCase {
    let id = criterion
        .id
        .as_ref()
        .map_or("criterion", |i| i.value.as_str());
    let text = criterion.text.value.trim().trim_end_matches('.');
    let form = classify(text);
    let (precondition, action, outcome) = match form {
        CriterionForm::EventDriven => {
            let (trigger, response) = split_shall(text);
            (
                None,
                Some(strip_subject(strip_keyword(trigger, "when"))),
                response,
            )
        }
        CriterionForm::Unwanted => {
            let (condition, response) = split_shall(text);
            let condition = strip_keyword(condition, "if");
            let condition = split_word(condition, "then").map_or(condition, |(before, _)| before);
            (Some(condition.trim().to_string()), None, response)
        }
        CriterionForm::StateDriven | CriterionForm::Optional => {
            let keyword = if form == CriterionForm::StateDriven {
                "while"
            } else {
                "where"
            };
            let (state, response) = split_shall(text);
            (
                Some(strip_subject(strip_keyword(state, keyword))),
                None,
                response,
            )
        }
        CriterionForm::GivenWhenThen => given_when_then(text),
        CriterionForm::Ubiquitous | CriterionForm::Shall => (None, None, split_shall(text).1),
        CriterionForm::Incomplete(_) | CriterionForm::Untestable => (None, None, text.to_string()),
    };
    TestCase {
        name: test_name(language, id, &outcome),
        criterion: id.to_string(),
        form: form_name(form).to_string(),
        precondition: precondition.filter(|p| !p.is_empty()),
        action: action.filter(|a| !a.is_empty()),
        outcome,
        expected_errors: error_codes(text),
    }
}

fn form_name(form: CriterionForm) -> &'static str {
    match form {
        CriterionForm::Ubiquitous => "ubiquitous",
        CriterionForm::EventDriven => "event_driven",
        CriterionForm::Unwanted => "unwanted",
        CriterionForm::StateDriven => "state_driven",
        CriterionForm::Optional => "optional",
        CriterionForm::GivenWhenThen => "given_when_then",
        CriterionForm::Shall => "shall",
        CriterionForm::Incomplete(_) | CriterionForm::Untestable => "untestable",
    }
}

/// Byte range of the first whole word `word` (case-insensitive) in `text`.
fn find_word(text: &str, word: &str) -> Option<(usize, usize)> {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(word) {
        let (start, end) = (from + pos, from + pos + word.len());
        let before = lower[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let after = lower[end..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric());
        if before && after {
            return Some((start, end));
        }
        from = end;
    }
    None
}

fn split_word<'a>(text: &'a str, word: &str) -> Option<(&'a str, &'a str)> {
    find_word(text, word).map(|(start, end)| (&text[..start], &text[end..]))
}

/// `… SHALL <response>` → (text before, response). MUST counts as SHALL.
fn split_shall(text: &str) -> (&str, String) {
    let at = [find_word(text, "shall"), find_word(text, "must")]
        .into_iter()
        .flatten()
        .min();
    match at {
        Some((start, end)) => (&text[..start], text[end..].trim().to_string()),
        None => ("", text.to_string()),
    }
}

fn strip_keyword<'a>(text: &'a str, keyword: &str) -> &'a str {
    let trimmed = text.trim_start();
    match trimmed.get(..keyword.len()) {
        Some(head) if head.eq_ignore_ascii_case(keyword) => trimmed[keyword.len()..].trim(),
        _ => trimmed.trim(),
    }
}

/// Drops the EARS subject before SHALL: `a member borrows a book THE SYSTEM` → `a member borrows a book`.
fn strip_subject(text: &str) -> String {
    let trimmed = text.trim().trim_end_matches(',');
    let lower = trimmed.to_ascii_lowercase();
    for subject in [
        " the system",
        ", the system",
        " the service",
        " the app",
        " the application",
    ] {
        if let Some(rest) = lower.strip_suffix(subject) {
            return trimmed[..rest.len()]
                .trim()
                .trim_end_matches(',')
                .to_string();
        }
    }
    trimmed.to_string()
}

/// GIVEN … [AND …] WHEN … THEN … [AND …].
fn given_when_then(text: &str) -> (Option<String>, Option<String>, String) {
    let when = find_word(text, "when");
    let then = find_word(text, "then");
    let given = find_word(text, "given").map_or(0, |(_, end)| end);
    match (when, then) {
        (Some((ws, we)), Some((ts, te))) if ws < ts => {
            let precondition = (given > 0).then(|| text[given..ws].trim().to_string());
            (
                precondition,
                Some(text[we..ts].trim().to_string()),
                text[te..].trim().to_string(),
            )
        }
        (_, Some((ts, te))) => {
            let precondition = (given > 0).then(|| text[given..ts].trim().to_string());
            (precondition, None, text[te..].trim().to_string())
        }
        _ => (None, None, text.to_string()),
    }
}

/// Backticked identifiers named as errors: `error \`book_unavailable\``,
/// `error code \`E42\``, `raises \`ValueError\``. A backticked value after
/// other words (`status \`available\``) is a value, not an error.
fn error_codes(text: &str) -> Vec<String> {
    const MARKERS: &[&str] = &[
        "error",
        "errors",
        "code",
        "raise",
        "raises",
        "throw",
        "throws",
        "exception",
        "fail",
        "fails",
        "status code",
    ];
    let mut codes: Vec<String> = Vec::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 0 || part.is_empty() || part.len() > 64 {
            continue;
        }
        let is_identifier = part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
        let before: String = text
            .split('`')
            .take(i)
            .collect::<Vec<_>>()
            .concat()
            .to_ascii_lowercase();
        let last_words: Vec<&str> = before
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .rev()
            .take(2)
            .collect();
        let named_as_error = last_words.iter().any(|w| MARKERS.contains(w));
        if is_identifier && named_as_error && !codes.iter().any(|c| c == part) {
            codes.push(part.to_string());
        }
    }
    codes
}

/// The test's name in the language's convention, from the criterion id and its outcome.
fn test_name(language: Language, id: &str, outcome: &str) -> String {
    let id_slug = slug(id);
    let what = slug(outcome);
    match language {
        Language::Python => format!("test_{id_slug}_{what}"),
        Language::Rust => format!("{id_slug}_{what}"),
        Language::Typescript => format!(
            "{id} {}",
            outcome
                .split_whitespace()
                .take(12)
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Language::Go => {
            let camel: String = format!("{id_slug}_{what}")
                .split('_')
                .map(|w| {
                    let mut chars = w.chars();
                    chars.next().map_or(String::new(), |c| {
                        c.to_ascii_uppercase().to_string() + chars.as_str()
                    })
                })
                .collect();
            format!("Test{camel}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{Span, Spanned};

    fn case(text: &str) -> TestCase {
        let criterion = Criterion {
            id: Some(Spanned::new("AC-2.2".to_string(), Span::default())),
            text: Spanned::new(text.to_string(), Span::default()),
            span: Span::default(),
        };
        test_case(&criterion, Language::Python)
    }

    #[test]
    fn ears_forms_split_into_parts() {
        let t = case(
            "WHEN a member borrows an available book THE SYSTEM SHALL record a loan due 14 days later.",
        );
        assert_eq!(
            t.action.as_deref(),
            Some("a member borrows an available book")
        );
        assert_eq!(t.outcome, "record a loan due 14 days later");
        assert_eq!(t.name, "test_ac_2_2_record_a_loan_due_14_days");

        let t = case(
            "IF the book is on loan THEN THE SYSTEM SHALL reject the request with error `book_unavailable`.",
        );
        assert_eq!(t.precondition.as_deref(), Some("the book is on loan"));
        assert_eq!(
            t.outcome,
            "reject the request with error `book_unavailable`"
        );
        assert_eq!(t.expected_errors, ["book_unavailable"]);

        let t = case("WHEN a book is added THE SYSTEM SHALL store it with status `available`.");
        assert!(
            t.expected_errors.is_empty(),
            "a status value is not an error: {:?}",
            t.expected_errors
        );
        let t = case(
            "IF the limit is reached THEN THE SYSTEM SHALL fail with error code `E42` or raise `LimitError`.",
        );
        assert_eq!(t.expected_errors, ["E42", "LimitError"]);

        let t = case("WHILE a member has 5 open loans THE SYSTEM SHALL reject further loans.");
        assert_eq!(
            (t.form.as_str(), t.precondition.as_deref()),
            ("state_driven", Some("a member has 5 open loans"))
        );
    }

    #[test]
    fn given_when_then_splits_into_parts() {
        let t = case(
            "GIVEN a book on loan WHEN the member returns it THEN the loan is closed AND the book is available.",
        );
        assert_eq!(t.precondition.as_deref(), Some("a book on loan"));
        assert_eq!(t.action.as_deref(), Some("the member returns it"));
        assert_eq!(t.outcome, "the loan is closed AND the book is available");
    }
}
