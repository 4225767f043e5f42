//! The binary from the outside: exact positions per rule, exit codes, JSON
//! output, init/init-prd, conversion, unreadable input and the stdio server.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tdd-orchestrator"))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tdd-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_rule_is_reported_at_its_line_and_column() {
    let expected = [
        ("every-rule.prd.md", "3:8", "error[PRD011]"),
        ("every-rule.prd.md", "12:23", "warning[PRD005]"),
        ("every-rule.prd.md", "14:9", "error[PRD008]"),
        ("every-rule.prd.md", "16:13", "error[PRD007]"),
        ("every-rule.prd.md", "20:11", "warning[PRD004]"),
        ("every-rule.prd.md", "21:3", "warning[PRD015]"),
        ("every-rule.prd.md", "21:61", "warning[PRD005]"),
        ("every-rule.prd.md", "23:5", "error[PRD003]"),
        ("every-rule.prd.md", "25:8", "error[PRD009]"),
        ("every-rule.prd.md", "26:9", "error[PRD008]"),
        ("every-rule.prd.md", "30:20", "error[PRD006]"),
        ("every-rule.prd.md", "33:3", "error[PRD002]"),
        ("every-rule.prd.md", "44:3", "warning[PRD010]"),
        ("no-requirements.prd.md", "1:1", "error[PRD001]"),
        ("schema-violations.prd.yaml", "3:9", "error[PRD012]"),
        ("schema-violations.prd.yaml", "9:5", "error[PRD012]"),
        ("syntax-error.prd.json", "4:39", "error[PRD011]"),
        ("syntax-error.prd.yaml", "5:7", "error[PRD011]"),
    ];
    let corpus = repo().join("tests/corpus");
    for (file, position, code) in expected {
        let (status, stdout, _) = run(bin().arg("validate").arg(corpus.join(file)));
        assert_eq!(status, 1, "{file}: errors exit 1");
        let wanted = format!("{file}:{position}: {code}");
        assert!(
            stdout.lines().any(|l| l.contains(&wanted)),
            "{wanted} not in:\n{stdout}"
        );
    }
}

#[test]
fn encoding_and_size_problems_are_reported_not_fatal() {
    let dir = temp_dir("bytes");
    let bad = dir.join("bad.prd.md");
    std::fs::write(&bad, b"# Title\n\n## Requirements\n\xff\xfe broken\n").unwrap();
    let (status, stdout, _) = run(bin().arg("validate").arg(&bad));
    assert_eq!(status, 1);
    assert!(
        stdout.contains("error[PRD014]") && stdout.contains("line 4, column 1"),
        "{stdout}"
    );

    let big = dir.join("big.prd.md");
    std::fs::write(&big, "x".repeat(300 * 1024)).unwrap();
    let (status, stdout, _) = run(bin().args(["validate", "--max-file-kib", "256"]).arg(&big));
    assert_eq!(status, 1);
    assert!(
        stdout.contains("error[PRD013]") && stdout.contains("300 KiB"),
        "{stdout}"
    );
}

#[test]
fn clean_documents_report_nothing_and_exit_zero() {
    let dir = temp_dir("clean");
    let template = dir.join("docs/PRD.md");
    let (status, _, stderr) = run(bin()
        .args(["init-prd", "--title", "Greeter"])
        .arg(&template));
    assert_eq!(status, 0, "{stderr}");
    for file in [
        repo().join("examples/library-loans.prd.md"),
        template,
        repo().join("tests/corpus/clean.prd.yaml"),
    ] {
        let (status, stdout, _) = run(bin().arg("validate").arg(&file));
        assert_eq!(status, 0, "{}: {stdout}", file.display());
        assert!(
            stdout.ends_with("1 file checked: 0 errors, 0 warnings\n"),
            "{stdout}"
        );
    }
}

#[test]
fn json_output_is_machine_readable() {
    let file = repo().join("tests/corpus/every-rule.prd.md");
    let (status, stdout, _) = run(bin().args(["validate", "--format", "json"]).arg(&file));
    assert_eq!(status, 1);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let diagnostics = report["files"][0]["diagnostics"].as_array().unwrap();
    let dup = diagnostics.iter().find(|d| d["code"] == "PRD002").unwrap();
    assert_eq!(
        (dup["line"].as_u64(), dup["column"].as_u64()),
        (Some(33), Some(3))
    );
    assert_eq!(dup["related"][0]["line"], 19);
    assert_eq!(dup["fixes"][0], "Renumber to AC-3.1");
}

#[test]
fn missing_and_unreadable_files_are_clear_errors() {
    let (status, _, stderr) = run(bin().args(["validate", "/nonexistent/prd.md"]));
    assert_eq!(status, 2);
    assert!(
        stderr.contains("/nonexistent/prd.md") && stderr.contains("No such file"),
        "{stderr}"
    );
    let (status, _, stderr) = run(bin().arg("validate").arg(std::env::temp_dir()));
    assert_eq!(status, 2);
    assert!(stderr.contains("is a directory"), "{stderr}");
}

#[test]
fn init_writes_config_and_refuses_to_overwrite() {
    let dir = temp_dir("init");
    std::fs::create_dir(dir.join(".git")).unwrap();
    let (status, stdout, _) = run(bin().args(["init", "--language", "rust"]).current_dir(&dir));
    assert_eq!(status, 0);
    assert!(
        stdout.contains(".tdd/config.toml") && stdout.contains(".tdd/.gitignore"),
        "{stdout}"
    );
    let config = std::fs::read_to_string(dir.join(".tdd/config.toml")).unwrap();
    assert!(
        config.contains("language = \"rust\"") && config.contains("# "),
        "{config}"
    );
    let (status, _, stderr) = run(bin().arg("init").current_dir(&dir));
    assert_eq!(status, 2);
    assert!(
        stderr.contains("already exists") && stderr.contains("--force"),
        "{stderr}"
    );
    let (status, _, _) = run(bin().args(["init", "--force"]).current_dir(&dir));
    assert_eq!(status, 0);
    let (status, _, stderr) = run(bin().args(["init-prd"]).arg(dir.join(".tdd/config.toml")));
    assert_eq!(status, 2, "init-prd must not overwrite either");
    assert!(stderr.contains("--force"), "{stderr}");
}

#[test]
fn convert_keeps_every_id_and_validates_clean() {
    let dir = temp_dir("convert");
    let legacy = repo().join("tests/corpus/legacy/library_spec.txt");
    let out = dir.join("library.prd.md");
    let (status, _, stderr) = run(bin().arg("convert").arg(&legacy).arg("-o").arg(&out));
    assert_eq!(status, 0, "{stderr}");
    let source = std::fs::read_to_string(&legacy).unwrap();
    let converted = std::fs::read_to_string(&out).unwrap();
    for id in ids_in(&source) {
        assert!(
            converted.contains(&id),
            "{id} lost in conversion:\n{converted}"
        );
    }
    let (status, stdout, _) = run(bin().arg("validate").arg(&out));
    assert_eq!(status, 0, "{stdout}");
    assert!(stdout.ends_with("0 errors, 0 warnings\n"), "{stdout}");
    let (status, _, stderr) = run(bin().arg("convert").arg(&legacy).arg("-o").arg(&out));
    assert_eq!(status, 2, "convert must not overwrite");
    assert!(stderr.contains("--force"), "{stderr}");
}

/// FR/NFR/AC ids at the start of a line (after bullets, bold and indentation).
fn ids_in(text: &str) -> Vec<String> {
    let mut ids: Vec<String> = text
        .lines()
        .map(|l| l.trim_start().trim_start_matches(['-', '*', ' ']))
        .filter(|l| l.starts_with("FR-") || l.starts_with("NFR-") || l.starts_with("AC-"))
        .filter_map(|l| l.split(':').next())
        .map(|id| id.trim_end_matches('*').to_string())
        .collect();
    ids.dedup();
    assert!(ids.len() >= 10, "fixture too small: {ids:?}");
    ids
}

#[test]
fn lsp_over_stdio_starts_answers_and_exits() {
    let mut child = bin()
        .args(["lsp", "--stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let send = |stdin: &mut std::process::ChildStdin, body: &str| {
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        stdin.flush().unwrap();
    };
    send(
        &mut stdin,
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#,
    );
    let response = read_frame(&mut stdout);
    assert!(
        response.contains("\"executeCommandProvider\""),
        "{response}"
    );
    send(
        &mut stdin,
        r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#,
    );
    send(
        &mut stdin,
        r#"{"jsonrpc":"2.0","id":2,"method":"shutdown"}"#,
    );
    // A client without `workspace.configuration` gets no request from the
    // server, so the next frame is the shutdown response.
    let frame = read_frame(&mut stdout);
    assert!(
        frame.contains("\"id\":2") && !frame.contains("method"),
        "{frame}"
    );
    send(&mut stdin, r#"{"jsonrpc":"2.0","method":"exit"}"#);
    // The server exits on `exit` without waiting for stdin to close.
    let status = wait_with_timeout(&mut child, 10);
    assert!(
        status.is_some_and(|s| s.success()),
        "server did not exit cleanly: {status:?}"
    );
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn read_frame(reader: &mut impl BufRead) -> String {
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(n) = line.strip_prefix("Content-Length: ") {
            length = n.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

fn wait_with_timeout(
    child: &mut std::process::Child,
    seconds: u64,
) -> Option<std::process::ExitStatus> {
    for _ in 0..seconds * 20 {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

/// `sandbox = "bwrap"` where bwrap cannot be found: the run refuses before
/// any work, saying how to install it or turn it off.
#[test]
fn a_required_sandbox_that_is_missing_stops_the_run_saying_what_to_do() {
    let dir = temp_dir("sandbox-missing");
    tdd_test_support::git_init(&dir);
    std::fs::write(dir.join("neg.prd.md"), tdd_test_support::NEGATE_PRD).unwrap();
    std::fs::write(dir.join("agent.sh"), "#!/bin/sh\nexit 0\n").unwrap();
    let config = "[project]\nlanguage = \"python\"\n\n[worker]\nkind = \"command\"\n\
                  sandbox = \"bwrap\"\n\n[worker.command]\nprogram = \"./agent.sh\"\n";
    tdd_test_support::commit_with_config(&dir, config);
    let (status, _, err) = run(bin().args(["decompose", "neg.prd.md"]).current_dir(&dir));
    assert_eq!(status, 0, "{err}");
    // A PATH with no bwrap on it (the worker's program is a path).
    let empty = temp_dir("sandbox-missing-bin");
    let (status, out, err) = run(bin()
        .args(["run", "neg.prd.md"])
        .current_dir(&dir)
        .env("PATH", &empty));
    assert_eq!(status, 2, "{out}{err}");
    assert!(
        err.contains("sandbox = \"bwrap\", but bwrap is not on PATH")
            && err.contains("apt install bubblewrap")
            && err.contains("sandbox = \"none\""),
        "{err}"
    );
}
