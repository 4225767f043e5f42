//! The files a cheater writes in GREEN attempt 1: the task's own
//! `cheat_*` / `stub` / `skip` maps when the solution gives them, else a
//! generic misbehaviour derived from the honest files (the test files are
//! the RED stage's, the implementation files the GREEN stage's).

use std::path::Path;

use super::tools::FileWrite;
use crate::solution::{Cheat, Files, TaskSolution};

/// What the cheater writes instead of the honest GREEN files. Empty when
/// there is nothing to cheat with (no test files known for a test cheat).
pub(crate) fn writes(task: &TaskSolution, cheat: Cheat) -> Vec<FileWrite> {
    let given = task.cheat_files(cheat);
    let mut out = if given.is_empty() {
        fallback(task, cheat)
    } else {
        files(given)
    };
    // Writing outside is the whole cheat; the work itself is still done.
    if cheat == Cheat::WriteOutsideWorktree {
        out.extend(files(&task.green));
    }
    out
}

pub(crate) fn files(files: &Files) -> Vec<FileWrite> {
    files
        .iter()
        .map(|(path, content)| FileWrite {
            path: path.clone(),
            content: content.clone(),
        })
        .collect()
}

fn fallback(task: &TaskSolution, cheat: Cheat) -> Vec<FileWrite> {
    let each = |source: &Files, f: &dyn Fn(&str, &str) -> String| -> Vec<FileWrite> {
        source
            .iter()
            .map(|(path, content)| FileWrite {
                path: path.clone(),
                content: f(path, content),
            })
            .collect()
    };
    match cheat {
        Cheat::EditTest => each(&task.red, &weaken),
        Cheat::DeleteTest => each(&task.red, &|path, _| {
            format!("{} tests removed by the fake cheater\n", comment(path))
        }),
        Cheat::SkipTest => each(&task.red, &skip),
        Cheat::Stub => each(&task.green, &stub),
        Cheat::WriteOutsideWorktree => vec![FileWrite {
            path: format!("../outside-{}.txt", slug(&task.task)),
            content: format!(
                "written outside the worktree by the fake cheater for {}\n",
                task.task
            ),
        }],
    }
}

fn extension(path: &str) -> &str {
    Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
}

/// The line-comment marker of the file's language (a guess by extension).
fn comment(path: &str) -> &'static str {
    match extension(path) {
        "py" | "sh" | "rb" | "toml" | "yaml" | "yml" | "pl" | "r" | "cfg" | "txt" => "#",
        "sql" | "lua" | "hs" => "--",
        _ => "//",
    }
}

/// `REQ-1/AC-1.1` → `REQ-1-AC-1.1`: safe in a file name.
fn slug(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Replaces the file's one-line assertions with ones that always hold.
fn weaken(path: &str, content: &str) -> String {
    let ext = extension(path);
    rewrite(path, content, |line| {
        let t = line.trim_start();
        let indent = &line[..line.len() - t.len()];
        let weak = match ext {
            "py" if t.starts_with("assert ") || t.starts_with("assert(") => "assert True",
            "rs" if t.starts_with("assert") && t.contains("!(") && t.ends_with(");") => {
                "assert!(true);"
            }
            "js" | "ts" | "jsx" | "tsx" | "mjs" | "cjs"
                if t.starts_with("expect(") && (t.ends_with(");") || t.ends_with(')')) =>
            {
                "expect(true).toBe(true);"
            }
            _ => return vec![line.to_owned()],
        };
        vec![format!("{indent}{weak}")]
    })
}

/// Marks every test as skipped in the file's language.
fn skip(path: &str, content: &str) -> String {
    let ext = extension(path);
    let mut skipped = rewrite(path, content, |line| {
        let t = line.trim_start();
        let indent = &line[..line.len() - t.len()];
        match ext {
            "py" if t.starts_with("def test") || t.starts_with("async def test") => vec![
                format!("{indent}@pytest.mark.skip(reason=\"fake cheater\")"),
                line.to_owned(),
            ],
            "rs" if t == "#[test]" => vec![line.to_owned(), format!("{indent}#[ignore]")],
            "js" | "ts" | "jsx" | "tsx" | "mjs" | "cjs" => {
                match ["it(", "test("].iter().find(|p| t.starts_with(**p)) {
                    Some(p) => {
                        let name = &p[..p.len() - 1];
                        vec![format!("{indent}{name}.skip({}", &t[p.len()..])]
                    }
                    None => vec![line.to_owned()],
                }
            }
            _ => vec![line.to_owned()],
        }
    });
    if ext == "py" && !skipped.lines().any(|l| l.trim() == "import pytest") {
        skipped.insert_str(0, "import pytest\n");
    }
    skipped
}

/// A placeholder that cannot satisfy the tests.
fn stub(path: &str, _content: &str) -> String {
    match extension(path) {
        "py" => "# placeholder written by the fake cheater\nraise NotImplementedError(\"stub\")\n"
            .to_owned(),
        _ => format!(
            "{} placeholder written by the fake cheater: not implemented\n",
            comment(path)
        ),
    }
}

/// Maps each line; when no line changed, appends a comment so the file
/// differs from the honest one anyway.
fn rewrite(path: &str, content: &str, f: impl Fn(&str) -> Vec<String>) -> String {
    let mut out = String::with_capacity(content.len() + 64);
    let mut changed = false;
    for line in content.lines() {
        let new = f(line);
        changed |= new.len() != 1 || new[0] != line;
        for l in new {
            out.push_str(&l);
            out.push('\n');
        }
    }
    if !changed {
        out.push_str(comment(path));
        out.push_str(" changed by the fake cheater\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_cheats_by_language() {
        let py = "from calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n";
        assert_eq!(
            weaken("tests/test_calc.py", py),
            "from calc import add\n\ndef test_add():\n    assert True\n"
        );
        let skipped = skip("tests/test_calc.py", py);
        assert!(skipped.starts_with("import pytest\n"), "{skipped}");
        assert!(skipped.contains("@pytest.mark.skip(reason=\"fake cheater\")\ndef test_add"));
        let rs = "#[test]\nfn adds() {\n    assert_eq!(add(1, 2), 3);\n}\n";
        assert!(weaken("tests/a.rs", rs).contains("    assert!(true);\n"));
        assert!(skip("tests/a.rs", rs).starts_with("#[test]\n#[ignore]\n"));
        assert_eq!(
            skip("a.test.js", "  it('adds', () => {});\n"),
            "  it.skip('adds', () => {});\n"
        );
        assert_eq!(
            weaken("notes.md", "x\n"),
            "x\n// changed by the fake cheater\n"
        );
        assert_eq!(slug("REQ-1/AC 1.1"), "REQ-1-AC-1.1");
    }
}
