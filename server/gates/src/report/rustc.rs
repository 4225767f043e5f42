//! cargo's stderr during `cargo test`: the test binaries in the order they run,
//! rustc's errors (each a [`Problem`]), and the cause of a binary that crashed.

use std::collections::HashMap;

use super::Problem;
use super::classify::rustc_kind;
use super::text::{bounded, parse_location};

#[derive(Default)]
pub(crate) struct Cargo {
    /// The test binaries, in the order they ran.
    pub(crate) targets: Vec<String>,
    pub(crate) problems: Vec<Problem>,
    /// `process didn't exit successfully: … (signal: 11, SIGSEGV …)`, by the
    /// index of the binary it follows.
    pub(crate) crashes: HashMap<usize, String>,
}

const STATUS: [&str; 12] = [
    "Compiling",
    "Checking",
    "Finished",
    "Running",
    "Doc-tests",
    "Fresh",
    "Downloading",
    "Downloaded",
    "Updating",
    "Locking",
    "Blocking",
    "Building",
];

pub(crate) fn read_stderr(stderr: &str) -> Cargo {
    let mut cargo = Cargo::default();
    let lines: Vec<&str> = stderr.lines().collect();
    let mut i = 0;
    // Diagnostics waiting for cargo's `could not compile `x` (test "y")` line.
    let mut unscoped = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("Running ") {
            let rest = rest.strip_prefix("unittests ").unwrap_or(rest);
            let label = match rest.rfind(" (") {
                Some(at) => &rest[..at],
                None => rest,
            };
            cargo.targets.push(label.trim().to_string());
            continue;
        }
        if let Some(name) = trimmed.strip_prefix("Doc-tests ") {
            cargo.targets.push(format!("doc-tests {}", name.trim()));
            continue;
        }
        if trimmed.starts_with("Caused by:") {
            let cause: Vec<&str> = lines[i..]
                .iter()
                .take_while(|l| l.starts_with(' ') && !is_status(l))
                .map(|l| l.trim())
                .collect();
            i += cause.len();
            let binary = cargo.targets.len().saturating_sub(1);
            cargo.crashes.insert(binary, cause.join("\n"));
            continue;
        }
        let (code, header) = match diagnostic_header(line) {
            Some(h) => h,
            None => {
                if line.starts_with("warning") {
                    i += block_len(&lines[i..]);
                }
                continue;
            }
        };
        if let Some(target) = header.strip_prefix("could not compile ") {
            let scope = target.split("due to").next().unwrap_or(target);
            let scope = scope.trim().trim_end_matches(';').replace('`', "");
            let start = cargo.problems.len() - unscoped;
            for p in &mut cargo.problems[start..] {
                p.scope = Some(scope.clone());
            }
            unscoped = 0;
            continue;
        }
        if is_cargo_summary(header) {
            // `error: 2 targets failed:` lists them, indented.
            while i < lines.len() && lines[i].starts_with("    `") {
                i += 1;
            }
            continue;
        }
        let body_len = block_len(&lines[i..]);
        let body = &lines[i..i + body_len];
        i += body_len;
        let location = body
            .iter()
            .find_map(|l| l.trim_start().strip_prefix("--> "))
            .and_then(parse_location);
        let mut message = line.to_string();
        for l in body {
            message.push('\n');
            message.push_str(l);
        }
        cargo.problems.push(Problem {
            kind: rustc_kind(code, header),
            scope: None,
            message: bounded(&message),
            location,
        });
        unscoped += 1;
    }
    cargo
}

fn is_status(line: &str) -> bool {
    let trimmed = line.trim_start();
    STATUS
        .iter()
        .any(|s| trimmed.strip_prefix(s).is_some_and(|r| r.starts_with(' ')))
}

/// `error[E0425]: cannot find …` → (Some("E0425"), "cannot find …").
fn diagnostic_header(line: &str) -> Option<(Option<&str>, &str)> {
    let rest = line.strip_prefix("error")?;
    if let Some(rest) = rest.strip_prefix('[') {
        let (code, header) = rest.split_once("]: ")?;
        return Some((Some(code), header.trim()));
    }
    Some((None, rest.strip_prefix(": ")?.trim()))
}

/// cargo's own closing lines, not compiler errors.
fn is_cargo_summary(header: &str) -> bool {
    header.starts_with("test failed, to rerun pass")
        || header.ends_with("targets failed:")
        || header.ends_with("target failed:")
        || header.starts_with("aborting due to")
}

/// The lines of a diagnostic after its header: up to a blank line, a new
/// diagnostic or a cargo status line.
fn block_len(lines: &[&str]) -> usize {
    lines
        .iter()
        .take_while(|l| {
            !l.trim().is_empty()
                && !l.starts_with("error")
                && !l.starts_with("warning")
                && !is_status(l)
        })
        .count()
}
