//! Running a child command the engine can always stop: it gets its own
//! process group, its output is captured with a size cap, and a timeout or a
//! cancellation kills the whole group (grandchildren included), first with
//! SIGTERM, then, after a grace period, with SIGKILL.

use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// Output past this many bytes per stream is dropped (and `truncated` set).
pub const MAX_OUTPUT_BYTES: usize = 16 << 20;
/// How long a group has to exit after SIGTERM before SIGKILL.
pub const GRACE: Duration = Duration::from_secs(2);

/// Set to stop a running command (pause, cancel, shutdown).
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Clone, Debug)]
pub struct Spec {
    /// Run through `sh -c`, so configured test commands may use pipes and `2>&1`.
    pub command: String,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The command exited by itself with this code.
    Exited(i32),
    /// It was killed by a signal nobody here sent.
    Signalled(i32),
    TimedOut,
    Cancelled,
    /// Neither output nor a file change for [`Idle::after`]: stuck (an agent
    /// CLI waiting on a model server that never answers, say).
    Idle,
}

/// For [`run_watched`]: a program that prints nothing and changes no file
/// under `dir` for `after` is stopped as [`Ending::Idle`].
#[derive(Clone, Debug)]
pub struct Idle {
    pub after: Duration,
    pub dir: PathBuf,
}

#[derive(Clone, Debug)]
pub struct Finished {
    pub ending: Ending,
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
    /// Some output was dropped past `MAX_OUTPUT_BYTES`.
    pub truncated: bool,
}

/// Environment variables that commonly hold a model provider's key.
const KNOWN_KEY_VARS: [&str; 10] = [
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "OPENROUTER_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "MISTRAL_API_KEY",
    "DEEPSEEK_API_KEY",
    "GROQ_API_KEY",
    "XAI_API_KEY",
    "TOGETHER_API_KEY",
];

/// Variables a worker read a key from (`api_key_env`), beside the known ones.
static KEY_VARS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Marks `name` as holding a secret: test runs never see it.
pub fn mark_key_var(name: &str) {
    let mut vars = KEY_VARS.lock().unwrap_or_else(|e| e.into_inner());
    if !vars.iter().any(|v| v == name) {
        vars.push(name.to_string());
    }
}

/// Runs `spec` to its end, its timeout, or `cancel`.
pub fn run(spec: &Spec, cancel: &CancelToken) -> io::Result<Finished> {
    spawn_and_wait(spec, cancel, false, None)
}

/// [`run`], also stopped when it makes no progress ([`Idle`]).
pub fn run_watched(spec: &Spec, cancel: &CancelToken, idle: &Idle) -> io::Result<Finished> {
    spawn_and_wait(spec, cancel, false, Some(idle))
}

/// [`run`] for a test command: without the provider keys in its
/// environment, so tests a model wrote cannot read a key and send it back
/// through their output (unless `spec.env` sets the variable itself).
pub fn run_without_keys(spec: &Spec, cancel: &CancelToken) -> io::Result<Finished> {
    spawn_and_wait(spec, cancel, true, None)
}

fn spawn_and_wait(
    spec: &Spec,
    cancel: &CancelToken,
    hide_keys: bool,
    idle: Option<&Idle>,
) -> io::Result<Finished> {
    let started = Instant::now();
    let activity = Activity::new();
    let mut command = Command::new("sh");
    if hide_keys {
        let marked = KEY_VARS.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let names = KNOWN_KEY_VARS.iter().map(|n| n.to_string()).chain(marked);
        for name in names {
            if !spec.env.iter().any(|(k, _)| *k == name) {
                command.env_remove(name);
            }
        }
    }
    let mut child = command
        .arg("-c")
        .arg(&spec.command)
        .current_dir(&spec.cwd)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so one signal reaches everything it starts.
        .process_group(0)
        .spawn()?;
    let stdout = capture(child.stdout.take().expect("piped"), activity.clone());
    let stderr = capture(child.stderr.take().expect("piped"), activity.clone());
    let ending = wait(
        &mut child,
        spec.timeout,
        cancel,
        idle.map(|i| (i, &activity)),
    )?;
    // The group is gone by now; a process that left it may still hold a pipe.
    let until = Instant::now() + OUTPUT_GRACE;
    let (stdout, cut_out) = stdout.collect(until);
    let (stderr, cut_err) = stderr.collect(until);
    Ok(Finished {
        ending,
        stdout,
        stderr,
        duration: started.elapsed(),
        truncated: cut_out || cut_err,
    })
}

fn wait(
    child: &mut Child,
    timeout: Duration,
    cancel: &CancelToken,
    idle: Option<(&Idle, &Activity)>,
) -> io::Result<Ending> {
    let deadline = Instant::now() + timeout;
    let exit = ExitWatch::open(child);
    // Short first looks where the exit cannot be waited for: most test
    // commands of a small task end within milliseconds, and a fixed 5 ms
    // poll cost ~2.5 ms per run on average.
    let mut pause = Duration::from_micros(100);
    loop {
        if let Some(status) = child.try_wait()? {
            // The leader is gone; make sure nothing it started lingers.
            kill_group(child.id(), libc::SIGKILL);
            return Ok(ending_of(status));
        }
        let stop = if cancel.is_cancelled() {
            Some(Ending::Cancelled)
        } else if Instant::now() >= deadline {
            Some(Ending::TimedOut)
        } else if idle.is_some_and(|(idle, activity)| activity.stuck(idle)) {
            Some(Ending::Idle)
        } else {
            None
        };
        if let Some(ending) = stop {
            stop_group(child)?;
            return Ok(ending);
        }
        match &exit {
            Some(exit) => exit.wait(STOP_CHECK),
            None => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(5));
            }
        }
    }
}

/// How often a child whose exit wakes the wait is checked for a cancel, a
/// timeout or being stuck.
const STOP_CHECK: Duration = Duration::from_millis(20);

/// A descriptor that becomes readable when the child exits (Linux's pidfd),
/// so the wait ends the moment it does: polling in steps overshot a run's
/// end by up to a step (a quarter of a 2.6 ms run; 2.5 ms on average for
/// runs past 10 ms).
struct ExitWatch(std::os::fd::OwnedFd);

impl ExitWatch {
    #[cfg(target_os = "linux")]
    fn open(child: &Child) -> Option<ExitWatch> {
        use std::os::fd::{FromRawFd, OwnedFd};
        let pid = libc::pid_t::try_from(child.id()).ok()?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new
        // descriptor or -1; the child is not reaped yet, so the pid is ours.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
        // SAFETY: `fd` was just returned by the kernel and nothing else owns it.
        Some(ExitWatch(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    #[cfg(not(target_os = "linux"))]
    fn open(_: &Child) -> Option<ExitWatch> {
        None
    }

    /// Returns when the child has exited, or after `at_most`.
    fn wait(&self, at_most: Duration) {
        use std::os::fd::AsRawFd;
        let mut fds = [libc::pollfd {
            fd: self.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        let ms = libc::c_int::try_from(at_most.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd, its length passed; an interrupted or
        // failed poll only means the caller looks again.
        unsafe {
            libc::poll(fds.as_mut_ptr(), 1, ms);
        }
    }
}

/// SIGTERM to the group, SIGKILL after `GRACE`, then reap the leader.
fn stop_group(child: &mut Child) -> io::Result<()> {
    kill_group(child.id(), libc::SIGTERM);
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline {
        if child.try_wait()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    kill_group(child.id(), libc::SIGKILL);
    child.wait()?;
    Ok(())
}

fn kill_group(leader: u32, signal: libc::c_int) {
    let Ok(pgid) = libc::pid_t::try_from(leader) else {
        return;
    };
    // SAFETY: killpg only sends a signal; the group id is our child's pid,
    // which is its group id because it was spawned with process_group(0).
    unsafe {
        libc::killpg(pgid, signal);
    }
}

fn ending_of(status: ExitStatus) -> Ending {
    match (status.code(), status.signal()) {
        (Some(code), _) => Ending::Exited(code),
        (None, Some(signal)) => Ending::Signalled(signal),
        (None, None) => Ending::Exited(-1),
    }
}

/// When a program last showed progress: output read, or a file found
/// changed.
#[derive(Clone)]
struct Activity(Arc<Mutex<SystemTime>>);

impl Activity {
    fn new() -> Activity {
        Activity(Arc::new(Mutex::new(SystemTime::now())))
    }

    fn seen(&self, at: SystemTime) {
        let mut last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if at > *last {
            *last = at;
        }
    }

    fn last(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Quiet for `idle.after`, and no file under `idle.dir` changed since:
    /// the files are looked at only once the output has been quiet that
    /// long, so a busy program costs nothing.
    fn stuck(&self, idle: &Idle) -> bool {
        let quiet = |last: SystemTime| last.elapsed().is_ok_and(|q| q >= idle.after);
        if !quiet(self.last()) {
            return false;
        }
        if let Some(changed) = latest_change(&idle.dir) {
            self.seen(changed);
        }
        quiet(self.last())
    }
}

/// When a file under `dir` (as git would see it, ignored ones left out)
/// last changed (ctime: every write moves it).
fn latest_change(dir: &std::path::Path) -> Option<SystemTime> {
    use std::os::unix::fs::MetadataExt;
    let walked = crate::walk::walk(dir, dir, 200_000);
    walked
        .entries
        .iter()
        .filter_map(|e| std::fs::symlink_metadata(dir.join(&e.path)).ok())
        .map(|m| {
            let nanos = u32::try_from(m.ctime_nsec()).unwrap_or(0);
            let secs = u64::try_from(m.ctime()).unwrap_or(0);
            SystemTime::UNIX_EPOCH + Duration::new(secs, nanos)
        })
        .max()
}

/// How long the output may take to reach its end after the command's group
/// is gone. Only a process that left the group (`setsid`, a daemon) still
/// holds a pipe then; its later output is not waited for.
const OUTPUT_GRACE: Duration = Duration::from_secs(1);

/// One stream's output as its reader thread has kept it so far.
#[derive(Default)]
struct Kept {
    bytes: Vec<u8>,
    truncated: bool,
    ended: bool,
}

/// A stream read to its end on a thread of its own (so neither pipe can
/// fill and block the child), keeping at most `MAX_OUTPUT_BYTES`; each read
/// is progress.
struct Capture(Arc<(Mutex<Kept>, std::sync::Condvar)>);

fn capture(mut stream: impl Read + Send + 'static, activity: Activity) -> Capture {
    let shared = Arc::new((Mutex::new(Kept::default()), std::sync::Condvar::new()));
    let theirs = shared.clone();
    std::thread::spawn(move || {
        let (kept, ended) = &*theirs;
        let lock = || kept.lock().unwrap_or_else(|e| e.into_inner());
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    activity.seen(SystemTime::now());
                    let mut kept = lock();
                    let room = MAX_OUTPUT_BYTES.saturating_sub(kept.bytes.len());
                    kept.bytes.extend_from_slice(&chunk[..n.min(room)]);
                    kept.truncated |= n > room;
                }
            }
        }
        lock().ended = true;
        ended.notify_all();
    });
    Capture(shared)
}

impl Capture {
    /// The text and whether some was dropped: at the stream's end, or
    /// what came before `until`.
    fn collect(self, until: Instant) -> (String, bool) {
        let (kept, ended) = &*self.0;
        let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
        while !kept.ended {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            kept = ended
                .wait_timeout(kept, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        (
            String::from_utf8_lossy(&kept.bytes).into_owned(),
            kept.truncated,
        )
    }
}
