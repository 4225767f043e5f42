//! Program workers (agent CLIs, command plugins) in a bubblewrap sandbox:
//! the machine read-only, the task's worktree writable, a fresh `/tmp`, the
//! project's checkout and `.tdd/` hidden behind an empty read-only directory
//! (its `.git` readable, so git still works in the worktree), and the paths
//! the worker itself needs (a throwaway home, its request file) bound back
//! in.
//! The network stays open: the model endpoint must be reachable.
//!
//! A write the sandbox refuses fails inside the program with "read-only file
//! system"; [`refusals`] finds those lines in its output, and the attempt
//! fails as a violation naming them. The engine's escape audit stays as the
//! second line.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use tdd_core::config::SandboxMode;

/// bubblewrap, checked to work on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sandbox {
    bwrap: PathBuf,
}

/// What a worker's sandbox lets through besides the worktree.
#[derive(Clone, Debug, Default)]
pub struct Allow<'a> {
    /// Writable (a throwaway home).
    pub write: Vec<&'a Path>,
    /// Readable (a request file under `/tmp`).
    pub read: Vec<&'a Path>,
}

impl Sandbox {
    /// The sandbox `mode` asks for: `Ok(None)` for none (or for `auto` where
    /// bwrap is missing or cannot start); an error, saying what to do, when
    /// `bwrap` is asked for and unusable.
    pub fn choose(mode: SandboxMode) -> Result<Option<Sandbox>, String> {
        match (mode, usable()) {
            (SandboxMode::None, _) | (SandboxMode::Auto, Err(_)) => Ok(None),
            (_, Ok(bwrap)) => Ok(Some(Sandbox {
                bwrap: bwrap.clone(),
            })),
            (SandboxMode::Bwrap, Err(why)) => Err(format!(
                "[worker] sandbox = \"bwrap\", but {why}: install bubblewrap (Debian: `apt \
                 install bubblewrap`) or set sandbox = \"none\" in .tdd/config.toml"
            )),
        }
    }

    /// The words that run a program in the sandbox, before its own: the
    /// program runs in `worktree`.
    pub fn prefix(&self, worktree: &Path, allow: &Allow<'_>) -> Vec<String> {
        let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let worktree = absolute(worktree);
        let mut words: Vec<String> = vec![self.bwrap.display().to_string()];
        let mut add = |flag: &str, paths: &[&Path]| {
            words.push(flag.to_string());
            words.extend(paths.iter().map(|p| p.display().to_string()));
        };
        add("--die-with-parent", &[]);
        add("--ro-bind", &[Path::new("/"), Path::new("/")]);
        add("--dev", &[Path::new("/dev")]);
        add("--proc", &[Path::new("/proc")]);
        add("--tmpfs", &[Path::new("/tmp")]);
        let root = project_root(&worktree);
        if let Some(root) = &root {
            add("--tmpfs", &[root]);
            let git = root.join(".git");
            if git.is_dir() {
                add("--ro-bind", &[&git, &git]);
            }
        }
        add("--bind", &[&worktree, &worktree]);
        for path in &allow.write {
            let path = absolute(path);
            add("--bind", &[&path, &path]);
        }
        for path in &allow.read {
            let path = absolute(path);
            add("--ro-bind", &[&path, &path]);
        }
        // The empty stand-in for the checkout refuses writes too, so a write
        // there fails loudly instead of vanishing with the sandbox.
        if let Some(root) = &root {
            add("--remount-ro", &[root]);
        }
        add("--chdir", &[&worktree]);
        add("--", &[]);
        words
    }
}

/// The project whose `.tdd/` holds `worktree`: hidden, since a worker has
/// no business in the user's checkout or the other tasks' worktrees.
fn project_root(worktree: &Path) -> Option<PathBuf> {
    worktree
        .ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == ".tdd"))
        .and_then(Path::parent)
        .map(Path::to_path_buf)
}

/// `bwrap` on PATH, checked once by starting `true` in a minimal sandbox.
fn usable() -> &'static Result<PathBuf, String> {
    static USABLE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    USABLE.get_or_init(|| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let bwrap = std::env::split_paths(&path)
            .map(|dir| dir.join("bwrap"))
            .find(|p| p.is_file())
            .ok_or("bwrap is not on PATH")?;
        let tried = Command::new(&bwrap)
            .args([
                "--ro-bind",
                "/",
                "/",
                "--dev",
                "/dev",
                "--proc",
                "/proc",
                "true",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("{} cannot start: {e}", bwrap.display()))?;
        if !tried.status.success() {
            let why = String::from_utf8_lossy(&tried.stderr);
            return Err(format!(
                "{} does not work here ({})",
                bwrap.display(),
                why.trim()
            ));
        }
        Ok(bwrap)
    })
}

/// The writes the sandbox refused, as an attempt's `denied` entries, from
/// what the program printed on both streams (empty when it refused none).
pub fn refused_writes(stdout: &str, stderr: &str) -> Vec<String> {
    refusals(&format!("{stdout}\n{stderr}"))
        .into_iter()
        .map(|line| format!("the sandbox refused a write outside the worktree: {line}"))
        .collect()
}

/// Where a program's output says the sandbox refused a write: each line
/// that says "read-only file system", cut to the words around it (a JSON
/// line of an agent CLI can be long).
fn refusals(output: &str) -> Vec<String> {
    const NEEDLE: &str = "read-only file system";
    let mut found: Vec<String> = Vec::new();
    for line in output.lines() {
        let Some(at) = line.to_ascii_lowercase().find(NEEDLE) else {
            continue;
        };
        let boundary = |mut i: usize| {
            while !line.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let start = boundary(at.saturating_sub(120));
        let end = boundary((at + NEEDLE.len() + 120).min(line.len()));
        let mut text = line[start..end].trim().to_string();
        if start > 0 {
            text.insert(0, '…');
        }
        if end < line.len() {
            text.push('…');
        }
        if !found.contains(&text) {
            found.push(text);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkout_is_hidden_and_the_worktree_and_allowed_paths_bound_back() {
        let sandbox = Sandbox {
            bwrap: PathBuf::from("/usr/bin/bwrap"),
        };
        let home = Path::new("/tmp/home-1");
        let words = sandbox.prefix(
            Path::new("/p/.tdd/worktrees/T-1"),
            &Allow {
                write: vec![home],
                read: vec![Path::new("/tmp/req.json")],
            },
        );
        let line = words.join(" ");
        assert_eq!(
            line,
            "/usr/bin/bwrap --die-with-parent --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp \
             --tmpfs /p --bind /p/.tdd/worktrees/T-1 /p/.tdd/worktrees/T-1 --bind /tmp/home-1 \
             /tmp/home-1 --ro-bind /tmp/req.json /tmp/req.json --remount-ro /p \
             --chdir /p/.tdd/worktrees/T-1 --"
        );
    }

    #[test]
    fn refused_writes_are_found_in_any_program_s_words() {
        let output = "ok\ntouch: cannot touch '/root/x': Read-only file system\n\
                      Error: EROFS: read-only file system, open '/p/y'\nfine\n";
        assert_eq!(
            refusals(output),
            [
                "touch: cannot touch '/root/x': Read-only file system",
                "Error: EROFS: read-only file system, open '/p/y'"
            ]
        );
        assert!(refusals("all good").is_empty());
    }
}
