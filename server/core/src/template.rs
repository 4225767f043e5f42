//! The PRD written by `init-prd`: a complete, valid starting point.

/// A template PRD in the canonical Markdown format. It validates clean.
pub fn prd_template(title: &str, language: &str) -> String {
    let id = title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let id = if id.is_empty() {
        "PRD-NEW".to_string()
    } else {
        format!("PRD-{id}")
    };
    let (module, tests) = match language {
        "rust" => ("src/greeting.rs", "tests/greeting.rs"),
        "typescript" | "javascript" => ("src/greeting.ts", "tests/greeting.test.ts"),
        "go" => ("greeting/greeting.go", "greeting/greeting_test.go"),
        _ => ("src/app/greeting.py", "tests/test_greeting.py"),
    };
    format!(
        r#"---
id: {id}
title: {title}
language: {language}
---

# {title}

One paragraph on the problem this PRD solves and for whom.

## Requirements

<!-- One `### REQ-n Title` block per requirement. Each needs acceptance
     criteria in EARS (WHEN … THE SYSTEM SHALL …) or Given/When/Then. -->

### REQ-1 Greet a user by name

As a visitor, I want to be greeted by name so that I know the service knows me.

Module: {module}
Tests: {tests}

Acceptance criteria:
- AC-1.1: WHEN a visitor gives the name "Ada" THE SYSTEM SHALL answer "Hello, Ada!".
- AC-1.2: IF the name is empty THEN THE SYSTEM SHALL reject it with error `empty_name`.

## Non-functional requirements

- NFR-1: A greeting SHALL be produced within 50 ms at the 95th percentile.
"#
    )
}
