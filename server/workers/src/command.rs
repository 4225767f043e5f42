//! The command worker: one run of a configured program per stage attempt, in
//! the task's worktree, through [`crate::process`] (its own process group,
//! killed as a group on timeout or cancel, output capped). The protocol is in
//! [`super::protocol`] and docs/workers.md.

use crate::transcript::{Transcript, TranscriptFormat};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tdd_core::config::CommandWorkerConfig;

use super::protocol::{
    EX_TEMPFAIL, PROTOCOL_VERSION, Said, WireRequest, clip, last_line, reported_usage,
};
use super::{StageRequest, Worker, WorkerError, WorkerReport};
use crate::process::{self, CancelToken, Ending, Spec};
use crate::sandbox::{self, Allow, Sandbox};

/// How long an attempt may run when nothing else is configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// How much of stderr a failure message quotes.
const STDERR_TAIL_LINES: usize = 20;
const STDERR_TAIL_CHARS: usize = 2000;

/// Runs `program args…` in the worktree for each attempt; see docs/workers.md.
#[derive(Clone, Debug)]
pub struct CommandWorker {
    name: String,
    /// As configured, for messages.
    shown: String,
    /// A path (absolute, or relative to the engine's working directory, not
    /// the worktree) when the configured program has a `/`, else a name
    /// looked up on `PATH`.
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    timeout: Duration,
    cancel: CancelToken,
    sandbox: Option<Sandbox>,
}

impl CommandWorker {
    /// `program` is a name looked up on `PATH` or a path with a `/`.
    pub fn new(name: impl Into<String>, program: impl Into<String>) -> Self {
        let shown = program.into();
        CommandWorker {
            name: name.into(),
            program: PathBuf::from(&shown),
            shown,
            args: Vec::new(),
            env: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            cancel: CancelToken::default(),
            sandbox: None,
        }
    }

    /// The `[worker.command]` table; a program path is relative to `project_root`.
    pub fn from_config(name: &str, config: &CommandWorkerConfig, project_root: &Path) -> Self {
        let mut worker = CommandWorker::new(name, config.program.clone())
            .args(config.args.iter().cloned())
            .timeout(Duration::from_secs(config.timeout_secs.get()));
        if config.program.contains('/') {
            worker.program = project_root.join(&config.program);
        }
        for (key, value) in &config.env {
            worker = worker.env(key.clone(), value.clone());
        }
        worker
    }

    pub fn args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// An extra environment variable (the `TDD_*` ones cannot be overridden).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A token that, once cancelled, stops a running attempt (its whole group).
    pub fn cancel_token(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Runs the program in `sandbox` (see [`crate::sandbox`]); `None`: as is.
    pub fn sandbox(mut self, sandbox: Option<Sandbox>) -> Self {
        self.sandbox = sandbox;
        self
    }

    /// The executable that would run, or what is wrong with it (for messages
    /// after the program's name: "not found on PATH", …).
    pub fn resolve_program(&self) -> Result<PathBuf, String> {
        resolve_program(&self.shown, &self.program, &self.env)
    }

    fn failed(&self, what: String, stderr: &str) -> WorkerError {
        WorkerError::Failed(format!(
            "worker program `{}` {what}{}",
            self.shown,
            tail(stderr)
        ))
    }

    fn environment(&self, request: &StageRequest, request_file: &Path) -> Vec<(String, String)> {
        // NUL cannot be passed in the environment; feedback is free text.
        let clean = |text: &str| text.replace('\0', " ");
        let mut env = self.env.clone();
        env.extend([
            ("TDD_PROTOCOL".to_string(), PROTOCOL_VERSION.to_string()),
            ("TDD_TASK".to_string(), clean(&request.task.key)),
            ("TDD_STAGE".to_string(), request.stage.as_str().to_string()),
            ("TDD_ATTEMPT".to_string(), request.attempt.to_string()),
            (
                "TDD_WORKTREE".to_string(),
                clean(&request.worktree.display().to_string()),
            ),
            (
                "TDD_WRITABLE".to_string(),
                clean(&request.writable.join("\n")),
            ),
            (
                "TDD_REQUEST_FILE".to_string(),
                request_file.display().to_string(),
            ),
        ]);
        if let Some(feedback) = &request.feedback {
            env.push(("TDD_FEEDBACK".to_string(), clean(feedback)));
        }
        env
    }
}

impl Worker for CommandWorker {
    fn name(&self) -> &str {
        &self.name
    }

    fn perform(&mut self, request: &StageRequest) -> Result<WorkerReport, WorkerError> {
        let program = self
            .resolve_program()
            .map_err(|problem| self.failed(problem, ""))?;
        let json = serde_json::to_string(&WireRequest::new(request))
            .map_err(|e| self.failed(format!("got no request: {e}"), ""))?;
        let file = RequestFile::create(&json)
            .map_err(|e| self.failed(format!("got no request file: {e}"), ""))?;
        // `exec` keeps the program itself as the group leader that gets the
        // signals; stdin is the request file, so nothing blocks on a pipe.
        let allow = Allow {
            read: vec![&file.0],
            ..Allow::default()
        };
        let mut words: Vec<String> = match &self.sandbox {
            Some(sandbox) => sandbox.prefix(&request.worktree, &allow),
            None => Vec::new(),
        };
        words.push(program.display().to_string());
        words.extend(self.args.iter().cloned());
        let words: Vec<String> = words.iter().map(|w| quote(w)).collect();
        let spec = Spec {
            command: format!(
                "exec {} < {}",
                words.join(" "),
                quote(&file.0.display().to_string())
            ),
            cwd: request.worktree.clone(),
            env: self.environment(request, &file.0),
            timeout: self.timeout,
        };
        let finished = process::run(&spec, &self.cancel).map_err(|e| {
            self.failed(
                format!("could not start in {}: {e}", request.worktree.display()),
                "",
            )
        })?;
        let stderr = &finished.stderr;
        let code = match finished.ending {
            Ending::Exited(code) => code,
            Ending::Signalled(signal) => {
                return Err(self.failed(format!("was killed by signal {signal}"), stderr));
            }
            // (It runs without an idle limit: a plugin may think quietly.)
            Ending::TimedOut | Ending::Idle => {
                return Err(self.failed(
                    format!(
                        "timed out after {} s and was killed with everything it started; \
                         raise [worker.command] timeout_secs if it needs longer",
                        self.timeout.as_secs_f64()
                    ),
                    stderr,
                ));
            }
            Ending::Cancelled => return Err(self.failed("was cancelled".to_string(), stderr)),
        };
        let denied = match self.sandbox {
            Some(_) => sandbox::refused_writes(&finished.stdout, stderr),
            None => Vec::new(),
        };
        if !denied.is_empty() {
            // What it tried to write where it may not is the answer, whatever
            // it did after.
            return Ok(WorkerReport {
                summary: format!("`{}` exited {code}", self.shown),
                exit_code: Some(code),
                denied,
                transcript: Some(transcript(&finished.stdout, stderr)),
                ..WorkerReport::default()
            });
        }
        let said = last_line(&finished.stdout);
        match (code, said) {
            (_, Said::Outage(message)) => Err(self.outage(message, stderr)),
            (EX_TEMPFAIL, _) => Err(self.outage(None, stderr)),
            (0, said) => {
                let (usage, model) = reported_usage(&finished.stdout);
                Ok(WorkerReport {
                    usage,
                    model,
                    summary: match said {
                        Said::Summary(summary) => summary,
                        _ => format!("`{}` exited 0", self.shown),
                    },
                    exit_code: Some(0),
                    denied: Vec::new(),
                    transcript: Some(transcript(&finished.stdout, stderr)),
                })
            }
            // The shell's codes for "not found" and "not executable".
            (126 | 127, _) => Err(self.failed(format!("could not start (exit {code})"), stderr)),
            (code, _) => Err(self.failed(format!("exited with code {code}"), stderr)),
        }
    }
}

/// What the command printed: its output, then its errors.
fn transcript(stdout: &str, stderr: &str) -> Transcript {
    let mut text = stdout.to_string();
    if !stderr.trim().is_empty() {
        text.push_str("\n--- stderr ---\n");
        text.push_str(stderr);
    }
    Transcript::new(TranscriptFormat::Text, text)
}

impl CommandWorker {
    fn outage(&self, message: Option<String>, stderr: &str) -> WorkerError {
        let message = message.unwrap_or_else(|| {
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
            clip(last.unwrap_or("no message").trim())
        });
        WorkerError::ProviderOutage(format!(
            "worker program `{}` reported a provider outage: {message}",
            self.shown
        ))
    }
}

/// The executable `shown` (as configured) names: `program` when it has a
/// `/`, else the first match on the `PATH` the program will see (a `PATH`
/// in `env` wins). Or what is wrong, for messages after the program's name.
pub(super) fn resolve_program(
    shown: &str,
    program: &Path,
    env: &[(String, String)],
) -> Result<PathBuf, String> {
    // Absolute, because the program runs in the worktree, not here.
    let absolute = |path: &Path| std::path::absolute(path).unwrap_or_else(|_| path.into());
    if shown.contains('/') {
        let program = absolute(program);
        return executable(&program).map(|()| program);
    }
    if shown.is_empty() {
        return Err("is empty".to_string());
    }
    let path = match env.iter().rev().find(|(k, _)| k == "PATH") {
        Some((_, value)) => Some(value.into()),
        None => std::env::var_os("PATH"),
    };
    std::env::split_paths(&path.unwrap_or_default())
        .map(|dir| absolute(&dir.join(program)))
        .find(|candidate| executable(candidate).is_ok())
        .ok_or_else(|| "not found on PATH".to_string())
}

/// `path` is a file someone may execute, or what is wrong with it.
fn executable(path: &Path) -> Result<(), String> {
    match fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(format!("does not exist (looked for {})", path.display()))
        }
        Err(e) => Err(format!("cannot be read ({}: {e})", path.display())),
        Ok(meta) if meta.is_dir() => Err(format!("is a directory ({})", path.display())),
        Ok(meta) if meta.permissions().mode() & 0o111 == 0 => Err(format!(
            "is not executable: run `chmod +x {}`",
            path.display()
        )),
        Ok(_) => Ok(()),
    }
}

/// One word for `sh`, whatever it contains.
pub(super) fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The end of stderr, for a failure message.
pub(super) fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.trim_end().lines().collect();
    if lines.is_empty() {
        return String::new();
    }
    let mut text = lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n");
    if let Some((cut, _)) = text.char_indices().rev().nth(STDERR_TAIL_CHARS) {
        text = format!("…{}", &text[cut..]);
    }
    format!("; stderr ends:\n{text}")
}

/// The request written outside the worktree (so it never shows in the diff)
/// for `TDD_REQUEST_FILE` and stdin; removed when dropped.
struct RequestFile(PathBuf);

impl RequestFile {
    fn create(json: &str) -> io::Result<RequestFile> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path =
                std::env::temp_dir().join(format!("tdd-request-{}-{n}.json", std::process::id()));
            // create_new: never follow or reuse a file someone else put there.
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path);
            match file {
                Ok(mut file) => {
                    let request = RequestFile(path);
                    file.write_all(json.as_bytes())?;
                    file.write_all(b"\n")?;
                    return Ok(request);
                }
                // Left by an earlier process with our pid: take the next name.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for RequestFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tdd_gates::Stage;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tdd-command-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn sh(script: &str) -> CommandWorker {
        CommandWorker::new("cmd", "sh").args(["-c", script])
    }

    #[test]
    fn quoting_survives_any_word() {
        let wt = temp("quote");
        let odd = "it's $HOME `x` \"y\" \\ * \n;";
        let mut worker = sh("printf '%s' \"$1\" > arg.txt").args(["sh", odd]);
        worker
            .perform(&super::super::test_request(&wt, Stage::Red, 1))
            .unwrap();
        assert_eq!(fs::read_to_string(wt.join("arg.txt")).unwrap(), odd);
    }

    #[test]
    fn exit_codes_map_to_outcomes() {
        let wt = temp("codes");
        let request = super::super::test_request(&wt, Stage::Green, 1);
        let ok = sh("echo working; echo '{\"summary\": \"done\"}'").perform(&request);
        assert_eq!(ok.unwrap().summary, "done");
        let plain = sh("echo all 12 tests passed").perform(&request).unwrap();
        assert_eq!(plain.summary, "`sh` exited 0");
        let tempfail = sh("echo 'HTTP 429' >&2; exit 75").perform(&request);
        assert!(
            matches!(&tempfail, Err(WorkerError::ProviderOutage(m)) if m.ends_with("HTTP 429")),
            "{tempfail:?}"
        );
        let said =
            sh("echo '{\"status\": \"provider_outage\", \"message\": \"503\"}'").perform(&request);
        assert!(matches!(&said, Err(WorkerError::ProviderOutage(m)) if m.ends_with("503")));
        let crashed = sh("echo boom >&2; exit 3").perform(&request).unwrap_err();
        let message = crashed.to_string();
        assert!(matches!(crashed, WorkerError::Failed(_)));
        assert!(
            message.contains("`sh` exited with code 3; stderr ends:\nboom"),
            "{message}"
        );
        let signalled = sh("kill -9 $$").perform(&request).unwrap_err().to_string();
        assert!(signalled.contains("killed by signal 9"), "{signalled}");
    }

    #[test]
    fn tdd_variables_win_over_configured_ones() {
        let wt = temp("env");
        let mut request = super::super::test_request(&wt, Stage::Green, 2);
        request.feedback = Some("a\0b".to_string());
        request.writable = vec!["src/a.py".to_string(), "src/b.py".to_string()];
        let script = "printf '{\"summary\": \"%s|%s|%s|%s\"}\\n' \"$TDD_TASK\" \"$TDD_FEEDBACK\" \"$MINE\" \"$(echo \"$TDD_WRITABLE\" | wc -l | tr -d ' ')\"";
        let report = sh(script)
            .env("TDD_TASK", "spoofed")
            .env("MINE", "kept")
            .perform(&request)
            .unwrap();
        assert_eq!(report.summary, "T|a b|kept|2");
    }

    #[test]
    fn the_request_file_is_removed_afterwards() {
        let wt = temp("reqfile");
        let request = super::super::test_request(&wt, Stage::Red, 1);
        let report = sh("cat \"$TDD_REQUEST_FILE\" > seen.json; printf '{\"summary\": \"%s\"}\\n' \"$TDD_REQUEST_FILE\"")
            .perform(&request)
            .unwrap();
        assert!(!Path::new(&report.summary).exists());
        assert!(!Path::new(&report.summary).starts_with(&wt));
        let seen: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(wt.join("seen.json")).unwrap()).unwrap();
        assert_eq!(seen["task"], "T");
    }

    #[test]
    fn a_program_that_is_not_executable_says_how_to_fix_it() {
        let dir = temp("noexec");
        fs::write(dir.join("agent.sh"), "#!/bin/sh\n").unwrap();
        let worker = CommandWorker::new("cmd", dir.join("agent.sh").display().to_string());
        let problem = worker.resolve_program().unwrap_err();
        assert!(problem.contains("chmod +x"), "{problem}");
        let mut missing = CommandWorker::new("cmd", "no-such-agent-xyz");
        let err = missing
            .perform(&super::super::test_request(&dir, Stage::Red, 1))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("worker program `no-such-agent-xyz` not found on PATH"),
            "{err}"
        );
    }

    #[test]
    fn a_cancelled_attempt_stops_at_once() {
        let wt = temp("cancel");
        let cancel = CancelToken::default();
        let mut worker = sh("sleep 30").cancel_token(cancel.clone());
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            cancel.cancel();
        });
        let started = std::time::Instant::now();
        let err = worker
            .perform(&super::super::test_request(&wt, Stage::Red, 1))
            .unwrap_err()
            .to_string();
        canceller.join().unwrap();
        assert!(err.contains("`sh` was cancelled"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn the_tail_keeps_the_last_lines() {
        let long: String = (0..50).map(|i| format!("line {i}\n")).collect();
        let text = tail(&long);
        assert!(text.starts_with("; stderr ends:\nline 30\n") && text.ends_with("line 49"));
        assert_eq!(tail("\n\n"), "");
    }
}
