//! The child-process runner against real processes: exit codes, output,
//! timeouts and cancellation that kill the whole process group.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tdd_workers::process::{
    CancelToken, Ending, Idle, Spec, mark_key_var, run, run_watched, run_without_keys,
};

fn spec(command: &str, timeout_ms: u64) -> Spec {
    Spec {
        command: command.to_string(),
        cwd: PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        env: vec![],
        timeout: Duration::from_millis(timeout_ms),
    }
}

fn alive(pid: i32) -> bool {
    // Signal 0 checks existence; a reaped or never-existing pid fails.
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn exit_code_and_both_streams_are_captured() {
    let done = run(
        &spec("echo out; echo err >&2; exit 3", 10_000),
        &CancelToken::default(),
    )
    .unwrap();
    assert_eq!(done.ending, Ending::Exited(3));
    assert_eq!(
        (done.stdout.as_str(), done.stderr.as_str()),
        ("out\n", "err\n")
    );
    assert!(!done.truncated);
}

#[test]
fn a_timeout_kills_the_whole_group_including_grandchildren() {
    let pidfile = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("grandchild-{}", std::process::id()));
    let _ = std::fs::remove_file(&pidfile);
    // The shell starts a background grandchild that ignores SIGTERM, then waits.
    let command = format!(
        "sh -c 'trap \"\" TERM; sleep 60' & echo $! > {}; wait",
        pidfile.display()
    );
    let started = Instant::now();
    let done = run(&spec(&command, 300), &CancelToken::default()).unwrap();
    assert_eq!(done.ending, Ending::TimedOut);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(!alive(pid), "grandchild {pid} survived the group kill");
}

/// A process that left the command's group (`setsid`, as daemons do) and
/// still holds its output pipe: the run ends with the command, with the
/// output written so far, instead of waiting for that process.
#[test]
fn an_escaped_process_holding_the_output_does_not_hold_the_run() {
    let pidfile =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("escaped-{}", std::process::id()));
    let _ = std::fs::remove_file(&pidfile);
    // The command waits until the process has left its group.
    let command = format!(
        "setsid sh -c 'echo $$ > {0}; exec sleep 60' & \
         while [ ! -s {0} ]; do sleep 0.01; done; echo started",
        pidfile.display()
    );
    let started = Instant::now();
    let done = run(&spec(&command, 30_000), &CancelToken::default()).unwrap();
    let took = started.elapsed();
    let pid = (0..100)
        .find_map(|_| {
            let text = std::fs::read_to_string(&pidfile).unwrap_or_default();
            let pid = text.trim().parse::<i32>().ok();
            if pid.is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            pid
        })
        .expect("the escaped process wrote its pid");
    // SAFETY: kill only sends a signal to the process this test started.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    assert_eq!(done.ending, Ending::Exited(0));
    assert_eq!(done.stdout, "started\n");
    // It would take the full 60 s if the run waited for the escaped process.
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[test]
fn cancellation_stops_a_running_command() {
    let cancel = CancelToken::default();
    let trigger = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        trigger.cancel();
    });
    let started = Instant::now();
    let done = run(&spec("sleep 30", 60_000), &cancel).unwrap();
    assert_eq!(done.ending, Ending::Cancelled);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn huge_output_is_capped_not_buffered_forever() {
    let done = run(
        &spec("head -c 20000000 /dev/zero | tr '\\0' x", 60_000),
        &CancelToken::default(),
    )
    .unwrap();
    assert_eq!(done.ending, Ending::Exited(0));
    assert!(done.truncated);
    assert_eq!(done.stdout.len(), tdd_workers::process::MAX_OUTPUT_BYTES);
}

#[test]
fn a_missing_working_directory_is_an_error_not_a_panic() {
    let mut s = spec("true", 1_000);
    s.cwd = PathBuf::from("/nonexistent/dir");
    assert!(run(&s, &CancelToken::default()).is_err());
}

#[test]
fn test_runs_never_see_provider_keys_but_other_commands_do() {
    // SAFETY: nextest runs each test in its own process, so no other
    // thread reads the environment while it is changed.
    unsafe {
        std::env::set_var("OPENAI_API_KEY", "sk-known-name");
        std::env::set_var("TDD_TEST_OWN_KEY", "sk-configured-name");
    }
    mark_key_var("TDD_TEST_OWN_KEY");
    let echo = "echo \"${OPENAI_API_KEY:-unset} ${TDD_TEST_OWN_KEY:-unset} ${HOME:+home}\"";
    let hidden = run_without_keys(&spec(echo, 10_000), &CancelToken::default()).unwrap();
    assert_eq!(hidden.stdout, "unset unset home\n");
    let plain = run(&spec(echo, 10_000), &CancelToken::default()).unwrap();
    assert_eq!(plain.stdout, "sk-known-name sk-configured-name home\n");
    // A variable the spec sets itself is kept: the command asked for it.
    let mut own = spec(echo, 10_000);
    own.env = vec![("OPENAI_API_KEY".into(), "given".into())];
    let given = run_without_keys(&own, &CancelToken::default()).unwrap();
    assert_eq!(given.stdout, "given unset home\n");
}

/// A program that neither prints nor changes a file for the idle limit is
/// stopped as idle; one that keeps printing, or keeps writing files
/// silently, runs to its end.
#[test]
fn no_output_and_no_file_change_is_idle_and_either_keeps_a_program_going() {
    let dir = tempfile::tempdir().unwrap();
    let idle = Idle {
        after: Duration::from_millis(800),
        dir: dir.path().to_path_buf(),
    };
    let mut quiet = spec("sleep 30", 60_000);
    quiet.cwd = dir.path().to_path_buf();
    let started = Instant::now();
    let done = run_watched(&quiet, &CancelToken::default(), &idle).unwrap();
    assert_eq!(done.ending, Ending::Idle);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // 2.4 s of work, never quiet for 0.8 s.
    for (what, command) in [
        (
            "printing",
            "for i in 1 2 3 4 5 6 7 8; do echo $i; sleep 0.3; done",
        ),
        (
            "writing",
            "for i in 1 2 3 4 5 6 7 8; do echo $i > f$i.txt; sleep 0.3; done",
        ),
    ] {
        let mut busy = spec(command, 60_000);
        busy.cwd = dir.path().to_path_buf();
        let done = run_watched(&busy, &CancelToken::default(), &idle).unwrap();
        assert_eq!(done.ending, Ending::Exited(0), "{what}");
    }
}
