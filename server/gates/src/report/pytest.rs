//! Reading pytest's tracebacks (the body of a JUnit `failure` or `error`): the
//! exception it reports and where.

use super::Location;
use super::classify::split_exception;
use super::text::{parse_location, python_file_line};

/// pytest's exception: its type from the crash line (`tests/x.py:11: AssertionError`)
/// or the last `E   Type: message` line, and the text of the `E` lines.
pub(crate) fn exception(body: &str) -> Option<(String, String)> {
    let e_lines: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix('E'))
        .filter(|l| l.is_empty() || l.starts_with(' '))
        .map(str::trim)
        .collect();
    let crash = body.lines().rev().find_map(crash_line).map(|(_, t)| t);
    let from_e = e_lines
        .iter()
        .rev()
        .find_map(|l| split_exception(l))
        .map(|(t, _)| t.to_string());
    let exception = crash.map(str::to_string).or(from_e)?;
    Some((exception, e_lines.join("\n")))
}

/// `tests/x.py:11: AssertionError` → (location, `AssertionError`).
fn crash_line(line: &str) -> Option<(Location, &str)> {
    let (place, exception) = line.rsplit_once(": ")?;
    let exception = exception.trim_end();
    let identifier = !exception.is_empty()
        && exception
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !identifier || place.starts_with(' ') {
        return None;
    }
    Some((parse_location(place)?, exception))
}

/// Where the failure happened: for a syntax error the line Python names
/// (`File "…", line 4`), else the crash line, else the last traceback frame in the
/// project, else the test of a fixture that was not found.
pub(crate) fn location(body: &str, syntax: bool) -> Option<Location> {
    syntax
        .then(|| python_file_line(body))
        .flatten()
        .or_else(|| body.lines().rev().find_map(crash_line).map(|(l, _)| l))
        .or_else(|| body.lines().rev().find_map(python_frame))
        .or_else(|| body.lines().find_map(fixture_lookup))
}

/// A frame of pytest's traceback in the project: `tests/x.py:1: in <module>`.
fn python_frame(line: &str) -> Option<Location> {
    let (place, _) = line.split_once(": in ")?;
    let foreign = ["site-packages", "<frozen", "/lib/python", "importlib"];
    if foreign.iter().any(|f| place.contains(f)) {
        return None;
    }
    parse_location(place)
}

/// pytest's fixture lookup error: `file /p/tests/x.py, line 27`.
fn fixture_lookup(line: &str) -> Option<Location> {
    let (file, line) = line.strip_prefix("file ")?.rsplit_once(", line ")?;
    Some(Location {
        file: file.to_string(),
        line: line.trim().parse().ok().filter(|l| *l > 0)?,
        column: None,
    })
}
