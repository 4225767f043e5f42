//! The scripted worker's file format (docs/workers.md): TOML, one `[[step]]`
//! per scripted attempt.
//!
//! ```toml
//! [[step]]
//! task = "REQ-1/AC-1.1"
//! stage = "green"          # red | green | refactor
//! attempt = 1              # default 1
//! write = { "src/calc.py" = "def add(a, b):\n    return a + b\n" }
//! delete = ["src/old.py"]
//! # or: outage = "429 Too Many Requests"; or neither: change nothing
//! ```
//!
//! Every mistake is reported with the file, line and column and what to
//! change; the whole file is checked before any step runs.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use tdd_core::text::{ColumnUnit, LineIndex};
use tdd_gates::Stage;
use toml::Spanned;

use super::scripted::{Script, ScriptedWorker, check_relative};

/// Scripts past this size are refused rather than read into memory.
pub const MAX_SCRIPT_BYTES: u64 = 32 << 20;

/// A worker script that could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("cannot read the worker script {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error(
        "the worker script {} is larger than {} MiB: split it or drop unused steps",
        path.display(),
        MAX_SCRIPT_BYTES >> 20
    )]
    TooLarge { path: PathBuf },
    /// `origin` is the file's path (or `<script>` for a string).
    #[error("{origin}:{line}:{column}: {message}")]
    Invalid {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptDoc {
    #[serde(default)]
    step: Vec<Spanned<StepDoc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepDoc {
    task: Spanned<String>,
    stage: Spanned<String>,
    #[serde(default)]
    attempt: Option<Spanned<i64>>,
    #[serde(default)]
    write: Option<BTreeMap<Spanned<String>, String>>,
    #[serde(default)]
    delete: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    outage: Option<Spanned<String>>,
    #[serde(default)]
    pause_ms: Option<u64>,
}

impl ScriptedWorker {
    /// Reads a worker script (named `scripted` until [`ScriptedWorker::named`]).
    pub fn from_file(path: &Path) -> Result<ScriptedWorker, ScriptError> {
        let read_error = |source| ScriptError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let mut bytes = Vec::new();
        file.take(MAX_SCRIPT_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if bytes.len() as u64 > MAX_SCRIPT_BYTES {
            return Err(ScriptError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let origin = path.display().to_string();
        let text = String::from_utf8(bytes).map_err(|e| {
            let offset = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(&e.into_bytes()[..offset]).into_owned();
            invalid(
                &origin,
                &text,
                offset,
                "is not UTF-8 text: save the script as UTF-8".to_string(),
            )
        })?;
        parse(&origin, &text)
    }
}

impl FromStr for ScriptedWorker {
    type Err = ScriptError;

    /// A script given as text; errors name it `<script>`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse("<script>", text)
    }
}

/// The step key a duplicate is checked on, with where it was first defined.
type Seen = HashMap<(String, Stage, u32), usize>;

fn parse(origin: &str, text: &str) -> Result<ScriptedWorker, ScriptError> {
    let at = |offset: usize, message: String| invalid(origin, text, offset, message);
    let doc: ScriptDoc = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        at(offset, e.message().trim_end().to_string())
    })?;
    let mut worker = ScriptedWorker::new("scripted");
    let mut seen = Seen::new();
    for step in doc.step {
        let step_start = step.span().start;
        let step = step.into_inner();
        let task = step.task.get_ref().trim().to_string();
        if task.is_empty() {
            return Err(at(
                step.task.span().start,
                "`task` is empty: give the task key, e.g. \"REQ-1/AC-1.1\"".to_string(),
            ));
        }
        let stage = stage(step.stage.get_ref()).map_err(|m| at(step.stage.span().start, m))?;
        let attempt = match &step.attempt {
            None => 1,
            Some(a) => u32::try_from(*a.get_ref())
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    at(
                        a.span().start,
                        "`attempt` counts from 1 (1 is the first attempt at the stage)".to_string(),
                    )
                })?,
        };
        let key = (task.clone(), stage, attempt);
        if let Some(first) = seen.get(&key) {
            let line = LineIndex::new(text)
                .line_col(text, *first, ColumnUnit::Char)
                .line
                + 1;
            return Err(at(
                step_start,
                format!(
                    "task `{task}`, stage {}, attempt {attempt} is already scripted by the step \
                     at line {line}: remove one of them or change its `attempt`",
                    stage.as_str()
                ),
            ));
        }
        seen.insert(key, step_start);
        let script = script(step.write, step.delete, step.outage, &at)?;
        worker = worker.on(&task, stage, attempt, script);
        if let Some(ms) = step.pause_ms {
            worker = worker.pause(&task, stage, attempt, Duration::from_millis(ms));
        }
    }
    Ok(worker)
}

fn stage(name: &str) -> Result<Stage, String> {
    match name {
        "red" => Ok(Stage::Red),
        "green" => Ok(Stage::Green),
        "refactor" => Ok(Stage::Refactor),
        "verify" | "merge" => Err(format!(
            "stage `{name}` has no worker (the engine runs it): use red, green or refactor"
        )),
        other => Err(format!(
            "unknown stage `{other}`: use red, green or refactor (lowercase)"
        )),
    }
}

fn script(
    write: Option<BTreeMap<Spanned<String>, String>>,
    delete: Option<Vec<Spanned<String>>>,
    outage: Option<Spanned<String>>,
    at: &impl Fn(usize, String) -> ScriptError,
) -> Result<Script, ScriptError> {
    if let Some(outage) = outage {
        if write.is_some() || delete.is_some() {
            return Err(at(
                outage.span().start,
                "a step either reports an outage or changes files: remove `outage`, or \
                 `write` and `delete`"
                    .to_string(),
            ));
        }
        return Ok(Script::Outage(outage.into_inner()));
    }
    let check = |path: &Spanned<String>| {
        check_relative(path.get_ref())
            .map_err(|why| at(path.span().start, format!("`{}` {why}", path.get_ref())))
    };
    let mut files = Vec::new();
    for (path, text) in write.unwrap_or_default() {
        check(&path)?;
        files.push((path.into_inner(), text));
    }
    let mut gone = Vec::new();
    for path in delete.unwrap_or_default() {
        check(&path)?;
        gone.push(path.into_inner());
    }
    Ok(match (files.is_empty(), gone.is_empty()) {
        (true, true) => Script::Nothing,
        (false, true) => Script::Write(files),
        _ => Script::Edit {
            write: files,
            delete: gone,
        },
    })
}

/// An error at byte `offset` of `text`, as 1-based line and column.
fn invalid(origin: &str, text: &str, offset: usize, message: String) -> ScriptError {
    let offset = tdd_core::text::floor_char_boundary(text, offset.min(text.len()));
    let pos = LineIndex::new(text).line_col(text, offset, ColumnUnit::Char);
    ScriptError::Invalid {
        origin: origin.to_string(),
        line: pos.line as usize + 1,
        column: pos.col as usize + 1,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn error(text: &str) -> String {
        text.parse::<ScriptedWorker>().unwrap_err().to_string()
    }

    #[test]
    fn parses_every_kind_of_step() {
        let worker: ScriptedWorker = r#"
[[step]]
task = "REQ-1/AC-1.1"
stage = "red"
write = { "tests/test_calc.py" = "def test_x():\n    assert False\n" }

[[step]]
task = "REQ-1/AC-1.1"
stage = "green"
attempt = 2
pause_ms = 5
write = { "src/calc.py" = "x = 1\n" }
delete = ["src/old.py"]

[[step]]
task = "REQ-1/AC-1.1"
stage = "refactor"
outage = "429 Too Many Requests"

[[step]]
task = "REQ-1/AC-1.1"
stage = "green"

[step.write]
"src/calc.py" = """
def add(a, b):
    return a + b
"""
"#
        .parse()
        .unwrap();
        let key = "REQ-1/AC-1.1";
        assert_eq!(worker.len(), 4);
        assert_eq!(
            worker.script(key, Stage::Red, 1),
            Some(&Script::Write(vec![(
                "tests/test_calc.py".to_string(),
                "def test_x():\n    assert False\n".to_string()
            )]))
        );
        assert!(matches!(
            worker.script(key, Stage::Green, 2),
            Some(Script::Edit { delete, .. }) if delete == &["src/old.py".to_string()]
        ));
        assert_eq!(
            worker.script(key, Stage::Refactor, 1),
            Some(&Script::Outage("429 Too Many Requests".to_string()))
        );
        assert!(matches!(
            worker.script(key, Stage::Green, 1),
            Some(Script::Write(files)) if files[0].1 == "def add(a, b):\n    return a + b\n"
        ));
    }

    #[test]
    fn an_empty_script_does_nothing() {
        assert!("".parse::<ScriptedWorker>().unwrap().is_empty());
        assert!(
            "# nothing yet\n"
                .parse::<ScriptedWorker>()
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn mistakes_are_reported_with_position_and_fix() {
        let cases = [
            (
                "[[step]]\ntask = \"T\"\nstage = \"blue\"\n",
                "<script>:3:9: unknown stage `blue`",
            ),
            (
                "[[step]]\ntask = \"T\"\nstage = \"verify\"\n",
                "3:9: stage `verify` has no worker",
            ),
            (
                "[[step]]\ntask = \"T\"\nstage = \"red\"\nattempt = 0\n",
                "4:11: `attempt` counts from 1",
            ),
            (
                "[[step]]\ntask = \"T\"\nstage = \"red\"\nattempt = -1\n",
                "4:11: `attempt` counts from 1",
            ),
            (
                "[[step]]\ntask = \" \"\nstage = \"red\"\n",
                "2:8: `task` is empty",
            ),
            (
                "[[step]]\ntask = \"T\"\nstage = \"red\"\nwirte = {}\n",
                "4:1: unknown field `wirte`",
            ),
            ("[[step]]\ntask = \"T\"\n", "1:1: missing field `stage`"),
            (
                "[[step]]\ntask = \"T\"\nstage = \"red\"\nwrite = { \"../x\" = \"\" }\n",
                "4:11: `../x` leaves the worktree",
            ),
            (
                "[[step]]\ntask = \"T\"\nstage = \"red\"\ndelete = [\"/etc/passwd\"]\n",
                "4:11: `/etc/passwd` is absolute",
            ),
            (
                "[[step]]\ntask = \"T\"\nstage = \"red\"\noutage = \"x\"\nwrite = {}\n",
                "4:10: a step either reports an outage or changes files",
            ),
            (
                "[[step]]\ntask = \"T\"\nstage = \"red\"\n\n[[step]]\ntask = \"T\"\nstage = \"red\"\nattempt = 1\n",
                "5:1: task `T`, stage red, attempt 1 is already scripted by the step at line 1",
            ),
            ("[[step]\n", "1:"),
            ("steps = []\n", "1:1: unknown field `steps`"),
        ];
        for (text, expected) in cases {
            let message = error(text);
            assert!(
                message.contains(expected),
                "{text:?}\n  got: {message}\n  want: {expected}"
            );
        }
    }

    #[test]
    fn from_file_names_the_file() {
        let dir = std::env::temp_dir().join(format!("tdd-script-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("script.toml");
        std::fs::write(&path, "[[step]]\ntask = \"T\"\nstage = 3\n").unwrap();
        let message = ScriptedWorker::from_file(&path).unwrap_err().to_string();
        assert!(
            message.starts_with(&format!("{}:3:9: ", path.display())),
            "{message}"
        );
        std::fs::write(&path, b"[[step]]\ntask = \"\xff\"\n").unwrap();
        let message = ScriptedWorker::from_file(&path).unwrap_err().to_string();
        assert!(message.contains(":2:9: is not UTF-8"), "{message}");
        let missing = ScriptedWorker::from_file(&dir.join("nope.toml")).unwrap_err();
        assert!(missing.to_string().contains("nope.toml"), "{missing}");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = text.parse::<ScriptedWorker>();
        }

        #[test]
        fn near_valid_scripts_never_panic(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("[[step]]\n"), Just("task = \"T\"\n"), Just("stage = \"red\"\n"),
                    Just("attempt = 2\n"), Just("write = { \"a\" = \"b\" }\n"), Just("[step.write]\n"),
                    Just("delete = [\"x\", \"../y\"]\n"), Just("outage = \"503\"\n"), Just("[[\n"),
                    Just("\"\"\"\n"), Just("é"), Just("[[[[[[[[[[[[[[[[[[[["), Just("{"), Just("\u{0}"),
                ],
                0..24,
            )
        ) {
            let text: String = parts.concat();
            if let Err(ScriptError::Invalid { line, column, .. }) = text.parse::<ScriptedWorker>() {
                prop_assert!(line >= 1 && column >= 1);
                prop_assert!(line <= text.lines().count().max(1) + 1);
            }
        }
    }
}
