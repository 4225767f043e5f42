//! `tdd_engine::git` on real repositories in temp dirs, cross-checked with the
//! `git` CLI. Every test also checks that the user's checked-out branch, HEAD,
//! index and working files are byte-identical before and after.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use git2::{IndexAddOption, Oid, Repository, RepositoryInitOptions, Signature};
use tdd_engine::git::{
    Change, ChangeKind, GitError, Project, Rebase, Stage, StageCommit, Tracking, Worktree,
    worktree_name,
};

use crate::support::*;

// ---------------------------------------------------------------- fixtures

/// A repository on `main` with one commit, and a user mid-work: an unstaged
/// edit, a staged new file and an untracked file.
fn user_repo(name: &str) -> PathBuf {
    let root = temp_dir(name);
    let mut opts = RepositoryInitOptions::new();
    opts.initial_head("main");
    let repo = Repository::init_opts(&root, &opts).unwrap();
    let mut config = repo.config().unwrap();
    config.set_str("user.name", "Ada Tester").unwrap();
    config.set_str("user.email", "ada@example.com").unwrap();
    write(&root, ".gitignore", "*.log\n");
    write(&root, "README.md", "# Shop\nline two\n");
    write(&root, "src/lib.py", "def total(xs):\n    return sum(xs)\n");
    write(
        &root,
        "tests/test_a.py",
        "from src.lib import total\n\ndef test_total():\n    assert total([1, 2]) == 3\n",
    );
    let mut index = repo.index().unwrap();
    index.add_all(["*"], IndexAddOption::DEFAULT, None).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = Signature::now("Ada Tester", "ada@example.com").unwrap();
    repo.commit(Some("HEAD"), &sig, &sig, "init", &tree, &[])
        .unwrap();
    // The user keeps working while tasks run.
    write(
        &root,
        "README.md",
        "# Shop (edited, not staged)\nline two\n",
    );
    write(&root, "staged.txt", "staged by the user\n");
    index.add_path(Path::new("staged.txt")).unwrap();
    index.write().unwrap();
    write(&root, "notes.txt", "untracked notes\n");
    root
}

/// Everything of the user's that must never change.
#[derive(Debug, PartialEq, Eq)]
struct UserState {
    head_file: Vec<u8>,
    main_tip: String,
    index: Vec<u8>,
    files: BTreeMap<String, Vec<u8>>,
    status: String,
}

fn user_state(root: &Path) -> UserState {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if rel == ".git" || rel == ".tdd" {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    let index = fs::read(root.join(".git/index")).unwrap();
    let mut files = BTreeMap::new();
    walk(root, root, &mut files);
    UserState {
        head_file: fs::read(root.join(".git/HEAD")).unwrap(),
        main_tip: git(root, &["rev-parse", "refs/heads/main"]),
        index,
        files,
        status: git(root, &["status", "--porcelain=v1", "--untracked-files=all"]),
    }
}

fn stage(task: &str, stage: Stage, evidence: &str, paths: &[&str]) -> StageCommit {
    StageCommit {
        task: task.to_string(),
        title: None,
        stage,
        evidence: evidence.to_string(),
        paths: paths.iter().map(|p| p.to_string()).collect(),
        allow_empty: false,
        outcome: None,
    }
}

fn head_of(wt: &Worktree) -> Oid {
    Repository::open(&wt.path)
        .unwrap()
        .head()
        .unwrap()
        .target()
        .unwrap()
}

fn tip(root: &Path, branch: &str) -> Oid {
    Oid::from_str(git(root, &["rev-parse", branch]).trim()).unwrap()
}

// ---------------------------------------------------------------- 1. worktrees

#[test]
fn parallel_task_worktrees_are_isolated_and_leave_the_user_alone() {
    let root = user_repo("parallel");
    let before = user_state(&root);
    let project = Project::open(&root).unwrap();
    assert_eq!(
        project.ensure_feature_branch("shop", "main").unwrap(),
        "tdd/shop"
    );
    // Idempotent, and it stays where it is.
    assert_eq!(
        project.ensure_feature_branch("shop", "main").unwrap(),
        "tdd/shop"
    );
    let base = tip(&root, "tdd/shop");
    assert_eq!(base, tip(&root, "main"));

    let tasks = [
        ("AUTH-1", "tests/test_auth.py"),
        ("cart/2:x", "tests/test_cart.py"),
    ];
    let worktrees: Vec<(Worktree, Oid)> = std::thread::scope(|scope| {
        let handles: Vec<_> = tasks
            .iter()
            .map(|&(key, file)| {
                let project = project.clone();
                scope.spawn(move || {
                    let wt = project.create_worktree("shop", key).unwrap();
                    write(
                        &wt.path,
                        file,
                        &format!("def test_{}():\n    assert False\n", key.len()),
                    );
                    let id = wt
                        .commit_stage(&stage(key, Stage::Red, "1 failed", &[file]))
                        .unwrap();
                    (wt, id)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let (a, a_commit) = &worktrees[0];
    let (b, b_commit) = &worktrees[1];

    // Paths: one safe component each under .tdd/worktrees, stable per key.
    assert_eq!(
        a.path,
        root.canonicalize().unwrap().join(".tdd/worktrees/AUTH-1")
    );
    assert_eq!(a.branch, "tdd-task/shop/AUTH-1");
    let b_name = b.path.file_name().unwrap().to_str().unwrap();
    assert!(b_name.starts_with("cart-2-x-"), "{b_name}");
    assert_eq!(b_name, worktree_name("cart/2:x"));
    assert_ne!(worktree_name("a/b"), worktree_name("a:b"));
    assert_eq!(b.path, project.worktree_path("cart/2:x"));
    assert_eq!(b.path.parent(), a.path.parent());

    // Each sees only its own files and commits.
    assert!(a.path.join("tests/test_auth.py").exists());
    assert!(!a.path.join("tests/test_cart.py").exists());
    assert!(b.path.join("tests/test_cart.py").exists());
    assert!(!b.path.join("tests/test_auth.py").exists());
    let a_log = git(&a.path, &["log", "--format=%H"]);
    let b_log = git(&b.path, &["log", "--format=%H"]);
    assert!(a_log.contains(&a_commit.to_string()) && !a_log.contains(&b_commit.to_string()));
    assert!(b_log.contains(&b_commit.to_string()) && !b_log.contains(&a_commit.to_string()));
    // Both branched from the feature tip; the feature branch did not move.
    assert_eq!(
        git(&a.path, &["rev-parse", "HEAD~1"]).trim(),
        base.to_string()
    );
    assert_eq!(tip(&root, "tdd/shop"), base);
    // The user's tree does not see the worktrees' files.
    assert!(!root.join("tests/test_auth.py").exists());

    let list = git(&root, &["worktree", "list", "--porcelain"]);
    assert!(
        list.contains(&format!("worktree {}", a.path.display())),
        "{list}"
    );
    assert!(
        list.contains("branch refs/heads/tdd-task/shop/AUTH-1"),
        "{list}"
    );
    assert!(
        list.contains(&format!("worktree {}", b.path.display())),
        "{list}"
    );

    // Re-creating is an error; opening gives the same worktree.
    let err = project.create_worktree("shop", "AUTH-1").unwrap_err();
    assert!(matches!(err, GitError::WorktreeExists { .. }), "{err}");
    assert!(err.to_string().contains("open_worktree"), "{err}");
    assert_eq!(&project.open_worktree("shop", "AUTH-1").unwrap(), a);

    // Removing deletes the directory and the registration, keeps the branch.
    project.remove_worktree("AUTH-1").unwrap();
    project.remove_worktree("cart/2:x").unwrap();
    project.remove_worktree("cart/2:x").unwrap();
    assert!(!a.path.exists() && !b.path.exists());
    let list = git(&root, &["worktree", "list", "--porcelain"]);
    assert!(
        !list.contains("AUTH-1") && !list.contains("cart-2"),
        "{list}"
    );
    assert_eq!(tip(&root, "tdd-task/shop/AUTH-1"), *a_commit);
    let err = project.open_worktree("shop", "AUTH-1").unwrap_err();
    assert!(matches!(err, GitError::NoWorktree { .. }), "{err}");

    // Re-creating after removal resumes the kept branch.
    let again = project.create_worktree("shop", "AUTH-1").unwrap();
    assert_eq!(head_of(&again), *a_commit);
    assert!(again.path.join("tests/test_auth.py").exists());

    // A worktree directory deleted by hand leaves a stale registration that
    // create_worktree prunes.
    fs::remove_dir_all(&again.path).unwrap();
    let third = project.create_worktree("shop", "AUTH-1").unwrap();
    assert_eq!(head_of(&third), *a_commit);

    assert_eq!(user_state(&root), before);
}

// ---------------------------------------------------------------- 2. commits

#[test]
fn stage_commits_hold_exactly_the_paths_and_carry_trailers() {
    let root = user_repo("commits");
    let before = user_state(&root);
    let project = Project::open(&root).unwrap();
    project.ensure_feature_branch("shop", "main").unwrap();
    let wt = project.create_worktree("shop", "PAY-7").unwrap();

    write(
        &wt.path,
        "tests/test_pay.py",
        "def test_pay():\n    assert pay() == 1\n",
    );
    write(&wt.path, "stray.txt", "not part of the stage\n");
    write(&wt.path, "src/lib.py", "# half-written by the worker\n");
    // Even what the worker staged itself stays out.
    git(&wt.path, &["add", "stray.txt"]);
    let mut red = stage(
        "PAY-7",
        Stage::Red,
        "1 failed:\n  test_pay (NameError)",
        &["tests/test_pay.py"],
    );
    red.title = Some("Pay with a card".into());
    let id = wt.commit_stage(&red).unwrap();
    assert_eq!(head_of(&wt), id);

    let body = git(&wt.path, &["log", "-1", "--format=%B"]);
    assert_eq!(
        body.trim_end(),
        "red: Pay with a card\n\nTdd-Task: PAY-7\nTdd-Stage: red\nTdd-Evidence: 1 failed: test_pay (NameError)"
    );
    let trailers = git(
        &wt.path,
        &["log", "-1", "--format=%(trailers:key=Tdd-Stage,valueonly)"],
    );
    assert_eq!(trailers.trim(), "red");
    let files = git(&wt.path, &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(files.trim(), "tests/test_pay.py");
    let author = git(&wt.path, &["log", "-1", "--format=%an <%ae>|%cn <%ce>"]);
    assert_eq!(
        author.trim(),
        "Ada Tester <ada@example.com>|Ada Tester <ada@example.com>"
    );
    // The stray file is untracked again, the worker's edit still unstaged.
    let status = git(&wt.path, &["status", "--porcelain=v1"]);
    assert!(status.contains("?? stray.txt"), "{status}");
    assert!(status.contains(" M src/lib.py"), "{status}");

    // Nothing changed on those paths: refused, unless asked.
    let err = wt.commit_stage(&red).unwrap_err();
    assert!(matches!(err, GitError::NothingToCommit { .. }), "{err}");
    let mut verify = stage("PAY-7", Stage::Verify, "suite green; clippy clean", &[]);
    verify.allow_empty = true;
    let empty = wt.commit_stage(&verify).unwrap();
    assert_eq!(
        git(&wt.path, &["rev-parse", &format!("{empty}^{{tree}}")]),
        git(&wt.path, &["rev-parse", &format!("{id}^{{tree}}")])
    );
    assert_eq!(
        git(
            &wt.path,
            &[
                "log",
                "-1",
                "--format=%s|%(trailers:key=Tdd-Task,valueonly,separator=)"
            ]
        )
        .trim(),
        "verify: PAY-7|PAY-7"
    );

    // A path whose file is gone is committed as a deletion.
    fs::remove_file(wt.path.join("tests/test_a.py")).unwrap();
    wt.commit_stage(&stage(
        "PAY-7",
        Stage::Green,
        "1 passed",
        &["tests/test_a.py", "src/lib.py"],
    ))
    .unwrap();
    let files = git(&wt.path, &["show", "--name-status", "--format=", "HEAD"]);
    assert_eq!(files, "M\tsrc/lib.py\nD\ttests/test_a.py\n");

    // Paths outside the worktree are refused.
    for bad in ["../escape.txt", "/etc/passwd", ".git/config", ""] {
        let err = wt
            .commit_stage(&stage("PAY-7", Stage::Green, "x", &[bad]))
            .unwrap_err();
        assert!(matches!(err, GitError::BadPath { .. }), "{bad}: {err}");
    }

    // A symlinked directory could lead out of the worktree.
    #[cfg(unix)]
    {
        let outside = temp_dir("outside");
        write(&outside, "secret.txt", "outside\n");
        std::os::unix::fs::symlink(&outside, wt.path.join("linked")).unwrap();
        let commit = stage("PAY-7", Stage::Green, "x", &["linked/secret.txt"]);
        let err = wt.commit_stage(&commit).unwrap_err();
        assert!(matches!(err, GitError::BadPath { .. }), "{err}");
        let err = wt.restore_paths(&["linked/secret.txt"]).unwrap_err();
        assert!(matches!(err, GitError::BadPath { .. }), "{err}");
        assert_eq!(read(&outside, "secret.txt"), "outside\n");
        fs::remove_file(wt.path.join("linked")).unwrap();
    }

    assert_eq!(user_state(&root), before);
}

#[test]
fn committer_falls_back_when_git_config_names_nobody() {
    let root = user_repo("fallback");
    // Local config wins over any global one; empty values make it unusable.
    let repo = Repository::open(&root).unwrap();
    let mut config = repo.config().unwrap();
    config.set_str("user.name", "").unwrap();
    config.set_str("user.email", "").unwrap();
    let project = Project::open(&root).unwrap();
    project.ensure_feature_branch("shop", "main").unwrap();
    let wt = project.create_worktree("shop", "F-1").unwrap();
    let mut verify = stage("F-1", Stage::Verify, " ", &[]);
    verify.allow_empty = true;
    wt.commit_stage(&verify).unwrap();
    let who = git(&wt.path, &["log", "-1", "--format=%an <%ae>|%cn <%ce>|%B"]);
    assert!(
        who.starts_with(
            "tdd-orchestrator <tdd-orchestrator@localhost>|tdd-orchestrator <tdd-orchestrator@localhost>|"
        ),
        "{who}"
    );
    assert!(who.contains("\nTdd-Evidence: none\n"), "{who}");
}

// ---------------------------------------------------------------- 3. changes

#[test]
fn changes_and_restore_paths() {
    changes_and_restore_paths_in("changes", false);
}

/// The same edits in a worktree whose writes are watched: the same changes.
#[test]
fn changes_and_restore_paths_in_a_tracked_worktree() {
    changes_and_restore_paths_in("changes-tracked", true);
}

fn changes_and_restore_paths_in(name: &str, tracked: bool) {
    let root = user_repo(name);
    let before = user_state(&root);
    let project = Project::open(&root).unwrap();
    project.ensure_feature_branch("shop", "main").unwrap();
    let mut wt = project.create_worktree("shop", "T-3").unwrap();
    if tracked {
        wt.track(Tracking::Events).unwrap();
        assert!(wt.is_tracked(), "inotify is there on Linux");
    }
    let since = head_of(&wt);
    let original_lib = read(&wt.path, "src/lib.py");
    let original_test = read(&wt.path, "tests/test_a.py");

    write(&wt.path, "src/lib.py", "def total(xs):\n    return 42\n");
    fs::remove_file(wt.path.join("README.md")).unwrap();
    fs::rename(
        wt.path.join("tests/test_a.py"),
        wt.path.join("tests/test_b.py"),
    )
    .unwrap();
    write(&wt.path, "new.txt", "new\n");
    write(&wt.path, "debug.log", "ignored by .gitignore\n");
    let changes = wt.changes(since).unwrap();
    assert_eq!(
        changes,
        vec![
            Change::new("README.md", ChangeKind::Deleted),
            Change::new("new.txt", ChangeKind::Added),
            Change::new("src/lib.py", ChangeKind::Modified),
            Change::new(
                "tests/test_b.py",
                ChangeKind::Renamed {
                    from: "tests/test_a.py".into()
                }
            ),
        ]
    );

    // Put the test file back, drop an added test (even a staged one).
    fs::rename(
        wt.path.join("tests/test_b.py"),
        wt.path.join("tests/test_a.py"),
    )
    .unwrap();
    write(
        &wt.path,
        "tests/test_a.py",
        "def test_total():\n    assert True  # weakened\n",
    );
    write(&wt.path, "tests/deep/test_new.py", "def test_new(): pass\n");
    git(&wt.path, &["add", "tests/deep/test_new.py"]);
    wt.restore_paths(&["tests/test_a.py", "tests/deep/test_new.py", "README.md"])
        .unwrap();
    assert_eq!(read(&wt.path, "tests/test_a.py"), original_test);
    assert!(!wt.path.join("tests/deep").exists());
    assert_eq!(read(&wt.path, "README.md"), "# Shop\nline two\n");
    // Only the named paths: the source edit and new.txt stay.
    assert_eq!(
        wt.changes(since).unwrap(),
        vec![
            Change::new("new.txt", ChangeKind::Added),
            Change::new("src/lib.py", ChangeKind::Modified),
        ]
    );
    let status = git(&wt.path, &["status", "--porcelain=v1"]);
    assert_eq!(status, " M src/lib.py\n?? new.txt\n");

    // Changes since an older commit include what was committed since.
    let id = wt
        .commit_stage(&stage("T-3", Stage::Green, "ok", &["src/lib.py"]))
        .unwrap();
    assert_eq!(
        wt.changes(since).unwrap(),
        vec![
            Change::new("new.txt", ChangeKind::Added),
            Change::new("src/lib.py", ChangeKind::Modified),
        ]
    );
    assert_eq!(
        wt.changes(id).unwrap(),
        vec![Change::new("new.txt", ChangeKind::Added)]
    );
    wt.restore_paths(&["src/lib.py"]).unwrap();
    assert_ne!(
        read(&wt.path, "src/lib.py"),
        original_lib,
        "HEAD has the committed edit"
    );

    let err = wt.restore_paths(&["../outside"]).unwrap_err();
    assert!(matches!(err, GitError::BadPath { .. }), "{err}");

    assert_eq!(user_state(&root), before);
}

/// Random edits (write, delete, rename, chmod, new directories, ignored
/// files, symlinks), each round compared: a tracked worktree reports the
/// same changes as a full scan of the same files.
#[test]
fn tracked_changes_equal_a_full_scan_under_random_edits() {
    use std::os::unix::fs::PermissionsExt;
    let root = user_repo("tracked-random");
    let project = Project::open(&root).unwrap();
    project.ensure_feature_branch("shop", "main").unwrap();
    let mut tracked = project.create_worktree("shop", "T-R").unwrap();
    tracked.track(Tracking::Events).unwrap();
    let scanned = project.open_worktree("shop", "T-R").unwrap();
    assert!(tracked.is_tracked() && !scanned.is_tracked());
    let since = head_of(&tracked);
    let names = [
        "README.md",
        "src/lib.py",
        "src/new.py",
        "tests/test_a.py",
        "tests/deep/er/test_x.py",
        "docs/a.md",
        "run.log",
        "src/pkg/__init__.py",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut most = 0;
    for round in 0..200 {
        let path = tracked.path.join(names[next(names.len())]);
        match next(6) {
            0 | 1 => {
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                if fs::symlink_metadata(&path).is_ok_and(|m| m.is_symlink()) {
                    fs::remove_file(&path).unwrap();
                }
                fs::write(&path, format!("round {round}\n")).unwrap();
            }
            2 => {
                let _ = fs::remove_file(&path);
            }
            3 => {
                let to = tracked.path.join(names[next(names.len())]);
                fs::create_dir_all(to.parent().unwrap()).unwrap();
                let _ = fs::rename(&path, &to);
            }
            4 => {
                if fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                    let mode = if next(2) == 0 { 0o755 } else { 0o644 };
                    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
                }
            }
            _ => {
                if !path.exists() && fs::symlink_metadata(&path).is_err() {
                    fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::os::unix::fs::symlink("README.md", &path).unwrap();
                }
            }
        }
        if round % 10 == 9 {
            let changes = tracked.changes(since).unwrap();
            assert_eq!(changes, scanned.changes(since).unwrap(), "round {round}");
            most = most.max(changes.len());
            assert!(tracked.is_tracked(), "round {round}: the watch lost count");
        }
        // Now and then a stage commit of everything changed since HEAD: the
        // tracked worktree then knows its files are HEAD's, and the edits
        // after it must still be seen.
        if round % 25 == 24 {
            let head = head_of(&tracked);
            let mut paths = Vec::new();
            for change in scanned.changes(head).unwrap() {
                if let ChangeKind::Renamed { from } = &change.kind {
                    paths.push(from.clone());
                }
                paths.push(change.path.clone());
            }
            let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
            match tracked.commit_stage(&stage("T-R", Stage::Green, "ok", &paths)) {
                Ok(_) | Err(GitError::NothingToCommit { .. }) => {}
                Err(e) => panic!("round {round}: {e}"),
            }
            let head = head_of(&tracked);
            assert_eq!(tracked.changes(head).unwrap(), [], "round {round}");
            assert_eq!(scanned.changes(head).unwrap(), [], "round {round}");
        }
    }
    assert!(most >= 4, "the edits changed too little to compare: {most}");
}

/// A path written again after its content was asked for, and a file
/// written after a stage commit, are seen: the content a tracked worktree
/// keeps between two questions holds only while nothing was written.
#[test]
fn a_tracked_worktree_sees_a_path_written_again_and_a_write_after_a_commit() {
    let root = user_repo("tracked-again");
    let project = Project::open(&root).unwrap();
    project.ensure_feature_branch("shop", "main").unwrap();
    let mut wt = project.create_worktree("shop", "T-A").unwrap();
    wt.track(Tracking::Events).unwrap();
    let base = head_of(&wt);
    let added = |path: &str| vec![Change::new(path, ChangeKind::Added)];

    write(&wt.path, "src/a.py", "A = 1\n");
    assert_eq!(wt.changes(base).unwrap(), added("src/a.py"));
    // The same path, the same length: only the write tells it changed.
    write(&wt.path, "src/a.py", "A = 2\n");
    let first = commit_file(&wt, "T-A", Stage::Green, "src/b.py", "B = 1\n");
    assert_eq!(wt.changes(first).unwrap(), added("src/a.py"));
    let committed = wt
        .commit_stage(&stage("T-A", Stage::Refactor, "ok", &["src/a.py"]))
        .unwrap();
    let repo = Repository::open(&wt.path).unwrap();
    let blob = repo
        .find_commit(committed)
        .unwrap()
        .tree()
        .unwrap()
        .get_path(Path::new("src/a.py"))
        .unwrap()
        .to_object(&repo)
        .unwrap()
        .peel_to_blob()
        .unwrap();
    assert_eq!(blob.content(), b"A = 2\n");
    assert_eq!(wt.changes(committed).unwrap(), []);

    write(&wt.path, "src/a.py", "A = 3\n");
    assert_eq!(
        wt.changes(committed).unwrap(),
        vec![Change::new("src/a.py", ChangeKind::Modified)]
    );
    assert!(wt.is_tracked());
}

/// A merged task's worktree is parked and adopted by the next task: it then
/// holds exactly what a fresh checkout of that task's branch holds, and the
/// pool removes what it still holds when dropped.
#[test]
fn a_parked_worktree_is_adopted_as_a_fresh_checkout() {
    parked_worktree_adopted("pool", Some(Tracking::Events));
}

/// The same for a worktree watched by `stat` (a program worker's).
#[test]
fn a_stat_watched_parked_worktree_is_adopted_as_a_fresh_checkout() {
    parked_worktree_adopted("pool-stat", Some(Tracking::Stat));
}

/// The same for a worktree whose writes are not watched (the watch lost
/// count): adopted after a stat scan instead.
#[test]
fn an_untracked_parked_worktree_is_adopted_as_a_fresh_checkout() {
    parked_worktree_adopted("pool-untracked", None);
}

fn parked_worktree_adopted(name: &str, track: Option<Tracking>) {
    use tdd_engine::git::WorktreePool;
    let root = user_repo(name);
    let before = user_state(&root);
    let project = Project::open(&root).unwrap();
    project.ensure_feature_branch("shop", "main").unwrap();
    let pool = WorktreePool::default();
    let first = project.checkout_task(&pool, "shop", "T-1", track).unwrap();
    assert_eq!(first.is_tracked(), track.is_some());
    commit_file(
        &first,
        "T-1",
        Stage::Red,
        "tests/test_one.py",
        "def test_one(): pass\n",
    );
    write(&first.path, "leftover.txt", "untracked, not ignored\n");
    write(&first.path, "cache.log", "ignored\n");
    assert_eq!(
        project.rebase_onto_feature(&first, "shop").unwrap(),
        Rebase::Done {
            tip: head_of(&first)
        }
    );
    project.fast_forward_feature("shop", &first).unwrap();
    // Another task merged meanwhile, from a worktree of its own.
    let other = project.create_worktree("shop", "T-2").unwrap();
    commit_file(&other, "T-2", Stage::Red, "src/two.py", "TWO = 2\n");
    project.fast_forward_feature("shop", &other).unwrap();
    project.remove_worktree("T-2").unwrap();

    let inode = |path: &Path| std::os::unix::fs::MetadataExt::ino(&fs::metadata(path).unwrap());
    let kept = inode(&first.path.join("tests/test_one.py"));
    let first_path = first.path.clone();
    project.park_worktree(&pool, first).unwrap();
    assert!(!first_path.exists());
    assert_eq!(pool.len(), 1);

    let adopted = project.checkout_task(&pool, "shop", "T-3", track).unwrap();
    assert_eq!(adopted.is_tracked(), track.is_some());
    assert!(pool.is_empty());
    assert_eq!(adopted.path, project.worktree_path("T-3"));
    assert_eq!(adopted.branch, "tdd-task/shop/T-3");
    assert_eq!(head_of(&adopted), tip(&root, "tdd/shop"));
    // Its files are the branch's. (The engine leaves a tracked worktree's
    // index behind; `sync_index` is what a failed task's worktree gets.)
    adopted.sync_index().unwrap();
    assert_eq!(git(&adopted.path, &["status", "--porcelain=v1"]), "");
    assert_eq!(read(&adopted.path, "src/two.py"), "TWO = 2\n");
    assert_eq!(
        inode(&adopted.path.join("tests/test_one.py")),
        kept,
        "a file already as the branch has it is not written again"
    );
    assert!(!adopted.path.join("leftover.txt").exists());
    assert!(
        adopted.path.join("cache.log").exists(),
        "ignored files stay"
    );
    let fresh = project.create_worktree("shop", "T-4").unwrap();
    assert_eq!(
        git(&adopted.path, &["ls-tree", "-r", "HEAD"]),
        git(&fresh.path, &["ls-tree", "-r", "HEAD"])
    );
    // The branch is free again: the parked worktree had let it go.
    assert!(git(&root, &["worktree", "list"]).contains("T-3"));

    let adopted_path = adopted.path.clone();
    commit_file(
        &adopted,
        "T-3",
        Stage::Red,
        "tests/test_three.py",
        "def test_three(): pass\n",
    );
    project.fast_forward_feature("shop", &adopted).unwrap();
    project.park_worktree(&pool, adopted).unwrap();
    drop(pool);
    assert!(!adopted_path.exists());
    let idle: Vec<_> = fs::read_dir(root.join(".tdd/worktrees"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(idle, ["T-4"], "the dropped pool removed what it held");
    git(&root, &["worktree", "prune", "--dry-run"]);
    assert_eq!(user_state(&root), before);
}

// ---------------------------------------------------------------- 4. merge queue

fn commit_file(wt: &Worktree, key: &str, st: Stage, path: &str, text: &str) -> Oid {
    write(&wt.path, path, text);
    wt.commit_stage(&stage(key, st, &format!("{} ok", st.as_str()), &[path]))
        .unwrap()
}

#[test]
fn merge_queue_rebases_and_fast_forwards() {
    let root = user_repo("merge");
    let before = user_state(&root);
    let project = Project::open(&root).unwrap();
    project.ensure_feature_branch("shop", "main").unwrap();
    let base = tip(&root, "tdd/shop");
    let a = project.create_worktree("shop", "A").unwrap();
    let b = project.create_worktree("shop", "B").unwrap();

    commit_file(
        &a,
        "A",
        Stage::Red,
        "tests/test_a2.py",
        "def test_a2(): assert a()\n",
    );
    commit_file(&a, "A", Stage::Green, "src/a.py", "def a(): return 1\n");
    let mut verify = stage("A", Stage::Verify, "suite green", &[]);
    verify.allow_empty = true;
    a.commit_stage(&verify).unwrap();
    let a_tip = commit_file(
        &a,
        "A",
        Stage::Refactor,
        "src/a.py",
        "def a():\n    return 1\n",
    );
    commit_file(
        &b,
        "B",
        Stage::Red,
        "tests/test_b2.py",
        "def test_b2(): assert b()\n",
    );
    let b_old = commit_file(&b, "B", Stage::Green, "src/b.py", "def b(): return 1\n");

    // A merges: already on the tip, so the rebase is a no-op, then a fast-forward.
    assert_eq!(
        project.rebase_onto_feature(&a, "shop").unwrap(),
        Rebase::Done { tip: a_tip }
    );
    assert_eq!(project.fast_forward_feature("shop", &a).unwrap(), a_tip);
    assert_eq!(tip(&root, "tdd/shop"), a_tip);

    // B branched before A merged: refused until rebased.
    let err = project.fast_forward_feature("shop", &b).unwrap_err();
    assert!(matches!(err, GitError::NotFastForward { .. }), "{err}");
    assert!(err.to_string().contains("rebase"), "{err}");
    // An untracked file where A's commits put one: refused, nothing changed.
    write(&b.path, "src/a.py", "mine\n");
    let err = project.rebase_onto_feature(&b, "shop").unwrap_err();
    assert!(matches!(err, GitError::Dirty { .. }), "{err}");
    assert_eq!(head_of(&b), b_old);
    assert_eq!(read(&b.path, "src/a.py"), "mine\n");
    assert!(!b.path.join("tests/test_a2.py").exists());
    fs::remove_file(b.path.join("src/a.py")).unwrap();

    let Rebase::Done { tip: b_tip } = project.rebase_onto_feature(&b, "shop").unwrap() else {
        panic!("B should rebase cleanly");
    };
    assert_ne!(b_tip, b_old);
    assert_eq!(head_of(&b), b_tip);
    // B's worktree now holds A's files too, and is clean.
    assert_eq!(read(&b.path, "src/a.py"), "def a():\n    return 1\n");
    assert_eq!(read(&b.path, "src/b.py"), "def b(): return 1\n");
    assert_eq!(git(&b.path, &["status", "--porcelain=v1"]), "");
    assert_eq!(project.fast_forward_feature("shop", &b).unwrap(), b_tip);

    // The feature branch: A's then B's commits, one per stage, with trailers.
    let log = git(
        &root,
        &[
            "log",
            "--reverse",
            "--format=%x00%B",
            &format!("{base}..tdd/shop"),
        ],
    );
    let bodies: Vec<&str> = log.split('\0').skip(1).map(str::trim).collect();
    let expected = [
        ("A", "red"),
        ("A", "green"),
        ("A", "verify"),
        ("A", "refactor"),
        ("B", "red"),
        ("B", "green"),
    ];
    assert_eq!(bodies.len(), expected.len(), "{log}");
    for (body, (task, st)) in bodies.iter().zip(expected) {
        assert!(body.starts_with(&format!("{st}: {task}\n")), "{body}");
        assert!(body.contains(&format!("\nTdd-Task: {task}\n")), "{body}");
        assert!(body.contains(&format!("\nTdd-Stage: {st}\n")), "{body}");
        assert!(body.contains("\nTdd-Evidence: "), "{body}");
    }
    // A linear history: no merge commits.
    assert_eq!(
        git(
            &root,
            &["rev-list", "--merges", &format!("{base}..tdd/shop")]
        ),
        ""
    );

    // A real conflict: C and D edit the same line.
    let c = project.create_worktree("shop", "C").unwrap();
    let d = project.create_worktree("shop", "D").unwrap();
    commit_file(
        &c,
        "C",
        Stage::Green,
        "README.md",
        "# Shop by C\nline two\n",
    );
    let d_tip = commit_file(
        &d,
        "D",
        Stage::Green,
        "README.md",
        "# Shop by D\nline two\n",
    );
    assert_eq!(
        project.rebase_onto_feature(&c, "shop").unwrap(),
        Rebase::Done { tip: head_of(&c) }
    );
    let c_tip = project.fast_forward_feature("shop", &c).unwrap();
    match project.rebase_onto_feature(&d, "shop").unwrap() {
        Rebase::Conflict { commit, paths } => {
            assert_eq!(commit, d_tip);
            assert_eq!(paths, vec!["README.md".to_string()]);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // D untouched, the feature branch untouched, the merge refused.
    assert_eq!(tip(&root, "tdd-task/shop/D"), d_tip);
    assert_eq!(head_of(&d), d_tip);
    assert_eq!(read(&d.path, "README.md"), "# Shop by D\nline two\n");
    assert_eq!(git(&d.path, &["status", "--porcelain=v1"]), "");
    assert!(matches!(
        project.fast_forward_feature("shop", &d).unwrap_err(),
        GitError::NotFastForward { .. }
    ));
    assert_eq!(tip(&root, "tdd/shop"), c_tip);

    // A dirty worktree is not rebased.
    write(&d.path, "README.md", "uncommitted\n");
    let err = project.rebase_onto_feature(&d, "shop").unwrap_err();
    assert!(matches!(err, GitError::Dirty { .. }), "{err}");
    // Another PRD's task is refused.
    let err = project.fast_forward_feature("other", &d).unwrap_err();
    assert!(matches!(err, GitError::WrongPrd { .. }), "{err}");
    assert!(root.join(".tdd/merge.lock").exists());

    assert_eq!(user_state(&root), before);
}

#[test]
fn concurrent_fast_forwards_never_lose_a_merge() {
    let root = user_repo("race");
    let project = Project::open(&root).unwrap();
    project.ensure_feature_branch("shop", "main").unwrap();
    let keys = ["R1", "R2", "R3", "R4"];
    let worktrees: Vec<Worktree> = keys
        .iter()
        .map(|key| {
            let wt = project.create_worktree("shop", key).unwrap();
            commit_file(&wt, key, Stage::Green, &format!("src/{key}.py"), "x = 1\n");
            wt
        })
        .collect();
    // Each worker loops: rebase, try to merge, retry when someone else won.
    std::thread::scope(|scope| {
        for wt in &worktrees {
            let project = project.clone();
            scope.spawn(move || {
                loop {
                    assert!(matches!(
                        project.rebase_onto_feature(wt, "shop").unwrap(),
                        Rebase::Done { .. }
                    ));
                    match project.fast_forward_feature("shop", wt) {
                        Ok(_) => break,
                        Err(GitError::NotFastForward { .. }) => continue,
                        Err(err) => panic!("{err}"),
                    }
                }
            });
        }
    });
    let files = git(&root, &["ls-tree", "-r", "--name-only", "tdd/shop", "src"]);
    for key in keys {
        assert!(files.contains(&format!("src/{key}.py")), "{files}");
    }
    assert_eq!(
        git(&root, &["rev-list", "--count", "main..tdd/shop"]).trim(),
        "4"
    );
}

// ---------------------------------------------------------------- 5. errors

#[test]
fn clear_errors() {
    let plain = temp_dir("not-a-repo");
    let err = Project::open(&plain).unwrap_err();
    assert!(matches!(err, GitError::NotARepository { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("not a git repository") && text.contains("git init"),
        "{text}"
    );

    let empty = temp_dir("no-commits");
    Repository::init(&empty).unwrap();
    let err = Project::open(&empty).unwrap_err();
    assert!(matches!(err, GitError::NoCommits { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("no commits") && text.contains("first commit"),
        "{text}"
    );

    let root = user_repo("errors");
    let before = user_state(&root);
    let project = Project::open(&root).unwrap();
    let err = project
        .ensure_feature_branch("shop", "develop")
        .unwrap_err();
    assert!(matches!(err, GitError::MissingBase { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("`develop` does not exist") && text.contains("main"),
        "{text}"
    );

    for bad in ["", "a/b", "a b", "x..y", "end.lock"] {
        let err = project.ensure_feature_branch(bad, "main").unwrap_err();
        assert!(
            matches!(err, GitError::InvalidName { .. }),
            "{bad:?}: {err}"
        );
    }
    let err = project.create_worktree("shop", "T-1").unwrap_err();
    assert!(matches!(err, GitError::MissingBranch { .. }), "{err}");
    assert!(err.to_string().contains("ensure_feature_branch"), "{err}");

    // The feature branch checked out in some tree is never moved under it.
    project.ensure_feature_branch("shop", "main").unwrap();
    let wt = project.create_worktree("shop", "T-1").unwrap();
    commit_file(&wt, "T-1", Stage::Green, "src/t1.py", "x = 1\n");
    let elsewhere = temp_dir("elsewhere").join("tree");
    git(
        &root,
        &["worktree", "add", elsewhere.to_str().unwrap(), "tdd/shop"],
    );
    let err = project.fast_forward_feature("shop", &wt).unwrap_err();
    assert!(matches!(err, GitError::CheckedOut { .. }), "{err}");

    assert_eq!(user_state(&root), before);
}

/// A run killed while git updated a ref leaves `<ref>.lock`, which fails
/// every later update of that ref; the next run clears the ones in tdd's
/// namespaces (and its worktrees' index and HEAD locks), nothing else.
#[test]
fn stale_lock_files_of_a_killed_run_are_cleared() {
    let root = user_repo("stale-locks");
    let project = Project::open(&root).unwrap();
    project.ensure_feature_branch("shop", "main").unwrap();
    let wt = project.create_worktree("shop", "T-9").unwrap();
    commit_file(
        &wt,
        "T-9",
        Stage::Red,
        "tests/test_nine.py",
        "def test_nine(): pass\n",
    );
    let refs = root.join(".git/refs/heads");
    let feature_lock = refs.join("tdd/shop.lock");
    fs::write(&feature_lock, "").unwrap();
    let err = project.fast_forward_feature("shop", &wt).unwrap_err();
    assert!(err.to_string().contains("lock"), "{err}");
    let task_lock = refs.join("tdd-task/shop/T-9.lock");
    fs::write(&task_lock, "").unwrap();
    let index_lock = root.join(".git/worktrees/T-9/index.lock");
    fs::write(&index_lock, "").unwrap();
    let users_lock = refs.join("main.lock");
    fs::write(&users_lock, "").unwrap();

    let cleared = project.clear_stale_locks().unwrap();
    assert_eq!(cleared.len(), 3, "{cleared:?}");
    assert!(!feature_lock.exists() && !task_lock.exists() && !index_lock.exists());
    assert!(
        users_lock.exists(),
        "the user's refs are not tdd's to clear"
    );
    fs::remove_file(&users_lock).unwrap();
    project.fast_forward_feature("shop", &wt).unwrap();
}

/// A tracked worktree whose watch loses count (here: a directory renamed,
/// whose files move without events of their own) falls back to scanning,
/// and its rebase still sees only what really changed, though its index was
/// left behind by the tracked commits.
#[test]
fn a_watch_that_loses_count_falls_back_to_a_correct_scan() {
    let root = user_repo("watch-lost");
    let project = Project::open(&root).unwrap();
    project.ensure_feature_branch("shop", "main").unwrap();
    let mut wt = project.create_worktree("shop", "T-L").unwrap();
    wt.track(Tracking::Events).unwrap();
    commit_file(
        &wt,
        "T-L",
        Stage::Red,
        "tests/test_l.py",
        "def test_l(): pass\n",
    );
    // A directory git ignores renamed into place (as tools make their
    // caches) is no work, and the watch keeps count.
    write(&wt.path, "tmp/run.log/a", "ignored\n");
    fs::rename(wt.path.join("tmp/run.log"), wt.path.join("run.log")).unwrap();
    fs::remove_dir_all(wt.path.join("tmp")).unwrap();
    assert_eq!(wt.changes(head_of(&wt)).unwrap(), vec![]);
    assert!(wt.is_tracked(), "an ignored directory's rename is not work");
    write(&wt.path, "scratch/a.txt", "untracked\n");
    fs::rename(wt.path.join("scratch"), wt.path.join("scratch2")).unwrap();
    let since = head_of(&wt);
    assert_eq!(
        wt.changes(since).unwrap(),
        vec![Change::new("scratch2/a.txt", ChangeKind::Added)]
    );
    assert!(!wt.is_tracked(), "a renamed directory breaks the watch");
    assert_eq!(
        project.rebase_onto_feature(&wt, "shop").unwrap(),
        Rebase::Done { tip: since }
    );
}

/// A run that died (its pool never dropped) left a parked worktree, a whole
/// checkout, registered with git. The next run's start removes it and its
/// registration, and leaves task worktrees alone.
#[test]
fn parked_worktrees_a_dead_run_left_are_removed() {
    use tdd_engine::git::WorktreePool;
    let root = user_repo("stale-parked");
    let project = Project::open(&root).unwrap();
    project.ensure_feature_branch("shop", "main").unwrap();
    let pool = WorktreePool::default();
    let first = project.checkout_task(&pool, "shop", "T-1", None).unwrap();
    project.park_worktree(&pool, first).unwrap();
    let kept = project.create_worktree("shop", "T-2").unwrap();
    // The process dies: nothing drops the pool.
    std::mem::forget(pool);
    let listed = |root: &Path| git(root, &["worktree", "list", "--porcelain"]);
    assert!(listed(&root).contains("/.idle-"), "{}", listed(&root));

    let removed = project.remove_stale_parked().unwrap();

    assert_eq!(removed.len(), 1, "{removed:?}");
    assert!(!removed[0].exists());
    let after = listed(&root);
    assert!(!after.contains("/.idle-"), "{after}");
    assert!(after.contains(&kept.path.display().to_string()), "{after}");
    assert!(kept.path.join(".git").exists());
    assert!(project.remove_stale_parked().unwrap().is_empty());
}
