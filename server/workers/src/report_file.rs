//! Where a test runner writes its report: one file per thread and
//! extension, outside the project, emptied before each run. A fresh file
//! per run costs an inode created and one freed each time, and on ext4
//! without a journal every freed inode is walked past by the creations of
//! the next half minute.
//!
//! A file is removed when its thread ends, and the ones still there when
//! the process exits (threads alive at `exit` never run their destructors)
//! by an `atexit` hook. A process killed outright leaves its files; the
//! next process to make one removes those of processes no longer running.

use std::cell::RefCell;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};

/// Every report file of the process not yet removed.
static MADE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static AT_EXIT: Once = Once::new();

/// This thread's report file for `extension`, empty.
pub(crate) fn report_path(extension: &str) -> io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static FILES: ThreadFiles = ThreadFiles {
            n: NEXT.fetch_add(1, Ordering::Relaxed),
            made: RefCell::new(Vec::new()),
        };
    }
    FILES.with(|files| {
        let path = std::env::temp_dir().join(format!(
            "tdd-report-{}-{}.{extension}",
            std::process::id(),
            files.n
        ));
        // Emptied, never deleted between runs, so a runner that writes
        // nothing leaves nothing to read; not followed if it is a link.
        let opened = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path);
        match opened {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                let why = format!("cannot empty the report file {}: {e}", path.display());
                return Err(io::Error::new(e.kind(), why));
            }
        }
        let mut made = files.made.borrow_mut();
        if !made.contains(&path) {
            made.push(path.clone());
            register(path.clone());
        }
        Ok(path)
    })
}

fn register(path: PathBuf) {
    AT_EXIT.call_once(|| {
        // SAFETY: registers a plain function with no arguments.
        unsafe {
            libc::atexit(remove_all);
        }
        remove_orphans(&std::env::temp_dir());
    });
    MADE.lock().unwrap_or_else(|e| e.into_inner()).push(path);
}

/// Removes the report files in `dir` of processes that no longer run.
fn remove_orphans(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("tdd-report-"))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only asks whether the process exists.
        let gone = unsafe { libc::kill(pid, 0) } == -1
            && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Removes every report file still there (at exit).
extern "C" fn remove_all() {
    // Never wait at exit: a thread stopped while holding the lock keeps it.
    if let Ok(mut made) = MADE.try_lock() {
        for path in made.drain(..) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The report files of one thread, removed when it ends.
struct ThreadFiles {
    n: u64,
    made: RefCell<Vec<PathBuf>>,
}

impl Drop for ThreadFiles {
    fn drop(&mut self) {
        let mine = std::mem::take(self.made.get_mut());
        let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
        made.retain(|p| !mine.contains(p));
        drop(made);
        for path in mine {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_of_a_process_that_no_longer_runs_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // A pid past the kernel's limit (4,194,304 at most) cannot run.
        let orphan = dir.path().join("tdd-report-2147483000-0.xml");
        let mine = dir
            .path()
            .join(format!("tdd-report-{}-0.xml", std::process::id()));
        let other = dir.path().join("tdd-report-notes.txt");
        for path in [&orphan, &mine, &other] {
            std::fs::write(path, "x").unwrap();
        }
        remove_orphans(dir.path());
        assert!(!orphan.exists());
        assert!(mine.exists() && other.exists());
    }

    #[test]
    fn a_thread_keeps_one_file_and_its_end_or_the_exit_hook_removes_it() {
        let (path, again) = std::thread::spawn(|| {
            let path = report_path("xml").unwrap();
            std::fs::write(&path, "<testsuites/>").unwrap();
            let again = report_path("xml").unwrap();
            (path, again)
        })
        .join()
        .unwrap();
        assert_eq!(path, again, "one file per thread");
        assert!(!path.exists(), "removed when its thread ended");

        // A thread still alive at exit: the hook removes its file.
        let (made, done) = std::sync::mpsc::channel();
        let (stop, wait) = std::sync::mpsc::channel::<()>();
        let alive = std::thread::spawn(move || {
            let path = report_path("json").unwrap();
            std::fs::write(&path, "{}").unwrap();
            made.send(path).unwrap();
            let _ = wait.recv();
        });
        let path = done.recv().unwrap();
        // Emptied for the next run, not removed.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}");
        remove_all();
        assert!(!path.exists(), "removed by the exit hook");
        stop.send(()).unwrap();
        alive.join().unwrap();
    }
}
