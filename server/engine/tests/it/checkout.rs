//! A new worktree's first checkout (`git/checkout.rs`): the engine writes the
//! files itself unless git would filter them; either way the git CLI must
//! see a clean, registered worktree on the task branch.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tdd_engine::git::{GitError, Project};

use crate::support::*;

/// A committed repository on `main` with a feature branch `tdd/p`.
fn repo_with(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let root = temp_dir(name);
    git(&root, &["init", "-q", "-b", "main"]);
    git(&root, &["config", "user.name", "Ada Tester"]);
    git(&root, &["config", "user.email", "ada@example.com"]);
    for (path, text) in files {
        write(&root, path, text);
    }
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "init"]);
    git(&root, &["branch", "tdd/p"]);
    root
}

fn assert_clean_worktree(root: &Path, wt: &Path, branch: &str) {
    assert_eq!(git(wt, &["status", "--porcelain", "--ignored"]), "");
    assert_eq!(
        git(wt, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        branch
    );
    let listed = git(root, &["worktree", "list", "--porcelain"]);
    let wt_line = format!("worktree {}", wt.display());
    assert!(listed.contains(&wt_line), "{listed}");
    assert!(
        listed.contains(&format!("branch refs/heads/{branch}")),
        "{listed}"
    );
    // git's own consistency check of the registration.
    git(root, &["worktree", "prune", "--dry-run"]);
    assert_eq!(git(root, &["worktree", "prune", "--dry-run", "-v"]), "");
}

#[test]
fn a_plain_tree_is_written_by_the_engine_and_git_sees_it_clean() {
    let mut files: Vec<(String, String)> = (0..300)
        .map(|i| {
            (
                format!("vendor/d{}/f{i}.txt", i / 50),
                format!("file {i}\n"),
            )
        })
        .collect();
    files.push(("src/app.py".into(), "print('hi')\n".into()));
    files.push(("empty.txt".into(), String::new()));
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let root = repo_with("plain-checkout", &borrowed);
    let script = root.join("run.sh");
    fs::write(&script, "#!/bin/sh\necho run\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("src/app.py", root.join("app-link")).unwrap();
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "script and link"]);
    git(&root, &["branch", "-f", "tdd/p"]);

    let project = Project::open(&root).unwrap();
    let wt = project.create_worktree("p", "T-1").unwrap();
    assert_clean_worktree(&root, &wt.path, "tdd-task/p/T-1");
    for (path, text) in &files {
        assert_eq!(read(&wt.path, path), *text, "{path}");
    }
    let mode = fs::metadata(wt.path.join("run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "run.sh lost its executable bit");
    assert_eq!(
        fs::read_link(wt.path.join("app-link")).unwrap(),
        Path::new("src/app.py")
    );
    // The index carries stat data: git need not read the files again.
    let stats = git(&wt.path, &["ls-files", "--debug", "src/app.py"]);
    assert!(!stats.contains("mtime: 0:0"), "{stats}");

    // Removed and made again at the same place, as a retried task is.
    project.remove_worktree("T-1").unwrap();
    let again = project.create_worktree("p", "T-1").unwrap();
    assert_clean_worktree(&root, &again.path, "tdd-task/p/T-1");
}

#[test]
fn a_tree_with_attributes_is_left_to_libgit2_which_applies_them() {
    let root = repo_with(
        "attributes-checkout",
        &[
            (".gitattributes", "*.txt eol=crlf\n"),
            ("a.txt", "one\ntwo\n"),
        ],
    );
    let project = Project::open(&root).unwrap();
    let wt = project.create_worktree("p", "T-1").unwrap();
    assert_eq!(read(&wt.path, "a.txt"), "one\r\ntwo\r\n");
    assert_clean_worktree(&root, &wt.path, "tdd-task/p/T-1");
}

#[test]
fn a_task_branch_checked_out_by_the_user_is_refused_by_name() {
    let root = repo_with("checked-out-task-branch", &[("a.txt", "one\n")]);
    let project = Project::open(&root).unwrap();
    let wt = project.create_worktree("p", "T-1").unwrap();
    project.remove_worktree("T-1").unwrap();
    assert!(!wt.path.exists());
    git(&root, &["checkout", "-q", "tdd-task/p/T-1"]);
    let err = project.create_worktree("p", "T-1").unwrap_err();
    assert!(
        matches!(&err, GitError::CheckedOut { branch, .. } if branch == "tdd-task/p/T-1"),
        "{err}"
    );
    assert!(err.to_string().contains("switch that tree"), "{err}");
    // Nothing half-made is left behind.
    assert!(!wt.path.exists());
    assert_eq!(
        git(&root, &["worktree", "list", "--porcelain"])
            .matches("worktree ")
            .count(),
        1
    );
}
