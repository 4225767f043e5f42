//! Re-planning an edited PRD against a real store: done tasks kept (flagged
//! when their plan changed), changed ones re-planned, removed ones cancelled,
//! and `status` notices a PRD edited since its decomposition.

use std::path::{Path, PathBuf};

use tdd_engine::planning::{apply, database_path, plan_file, status};
use tdd_engine::store::{Queries, Store, TaskStatus};

const EXAMPLE: &str = include_str!("../../../../examples/library-loans.prd.md");

fn project(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("replan-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    dir
}

fn decompose(root: &Path, store: &mut Store) -> tdd_core::plan::replan::Replan {
    let planned = plan_file(root, &root.join("loans.prd.md")).unwrap();
    assert!(planned.errors.is_empty(), "{:?}", planned.errors);
    apply(store, &planned).unwrap()
}

fn status_of(store: &Store, key: &str) -> (TaskStatus, bool) {
    store
        .read(|tx| -> Result<_, tdd_engine::store::StoreError> {
            let prd = tx.prd("loans.prd.md")?.unwrap();
            let task = tx
                .task(prd.id, key)?
                .unwrap_or_else(|| panic!("no task {key}"));
            Ok((task.status, task.prd_changed_since_done))
        })
        .unwrap()
}

#[test]
fn an_edited_prd_keeps_done_work_and_says_exactly_what_changed() {
    let root = project("edit");
    std::fs::write(root.join("loans.prd.md"), EXAMPLE).unwrap();
    let mut store = Store::open(database_path(&root)).unwrap();

    let first = decompose(&root, &mut store);
    assert_eq!(first.added.len(), 6, "{first:?}");

    // REQ-1 and REQ-2 were implemented.
    store
        .write(|tx| -> Result<(), tdd_engine::store::StoreError> {
            let prd = tx.prd("loans.prd.md")?.unwrap();
            for key in ["REQ-1/AC-1.1", "REQ-2/AC-2.1"] {
                tx.set_task_status(tx.task(prd.id, key)?.unwrap().id, TaskStatus::Done)?;
            }
            Ok(())
        })
        .unwrap();

    // Edit: a criterion changed (AC-3.2), one added (AC-2.4), one removed
    // (AC-4.1), and a requirement renamed (REQ-1).
    let edited = EXAMPLE
        .replace("reject the return with error `not_on_loan`", "reject the return with error `loan_not_found`")
        .replace(
            "- AC-2.3: WHILE a member has 5 open loans THE SYSTEM SHALL reject further loans with error `loan_limit_reached`.",
            "- AC-2.3: WHILE a member has 5 open loans THE SYSTEM SHALL reject further loans with error `loan_limit_reached`.\n- AC-2.4: WHEN a member borrows a reserved book THE SYSTEM SHALL reject the loan with error `book_reserved`.",
        )
        .replace(
            "- AC-4.1: WHEN a loan is 1 day past its due date THE SYSTEM SHALL queue one overdue notice to the member's email address.\n",
            "",
        )
        .replace("### REQ-1 Register a member", "### REQ-1 Register a library member");
    assert_ne!(edited, EXAMPLE);
    std::fs::write(root.join("loans.prd.md"), &edited).unwrap();

    let before = status(&store.reader().unwrap(), &root).unwrap();
    assert_eq!(
        before[0].changed_since_decomposition,
        Some(true),
        "status reports the edit"
    );

    let changes = decompose(&root, &mut store);
    // Done tasks whose plan changed stay done, flagged.
    assert_eq!(changes.changed_since_done, ["REQ-1/AC-1.1", "REQ-2/AC-2.1"]);
    assert_eq!(status_of(&store, "REQ-1/AC-1.1"), (TaskStatus::Done, true));
    assert_eq!(status_of(&store, "REQ-2/AC-2.1"), (TaskStatus::Done, true));
    // Pending tasks whose plan changed are re-planned.
    assert_eq!(changes.replanned, ["REQ-3/AC-3.1"]);
    assert_eq!(
        status_of(&store, "REQ-3/AC-3.1"),
        (TaskStatus::Pending, false)
    );
    // New criteria give new tasks; a task whose key criterion was removed is cancelled.
    assert_eq!(changes.added, ["REQ-2/AC-2.4", "REQ-4/AC-4.2"]);
    assert_eq!(changes.cancelled, ["REQ-4/AC-4.1"]);
    assert_eq!(status_of(&store, "REQ-4/AC-4.1").0, TaskStatus::Cancelled);
    assert_eq!(
        changes.unchanged,
        ["SETUP/manifest", "SETUP/package:src/library"]
    );

    let after = status(&store.reader().unwrap(), &root).unwrap();
    assert_eq!(after[0].changed_since_decomposition, Some(false));
    assert_eq!(after[0].flagged, ["REQ-1/AC-1.1", "REQ-2/AC-2.1"]);

    // Decomposing again changes nothing; every change above is in the event log.
    let again = decompose(&root, &mut store);
    assert!(again.is_noop(), "{again:?}");
    let events = store.reader().unwrap().events_after(0, 1000).unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    for kind in [
        "task_planned",
        "task_replanned",
        "task_changed_since_done",
        "task_cancelled",
        "prd_decomposed",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    assert!(
        events.windows(2).all(|w| w[1].seq == w[0].seq + 1),
        "event seqs are contiguous"
    );
}

#[test]
fn a_removed_task_that_comes_back_is_revived() {
    let root = project("revive");
    let mut store = Store::open(database_path(&root)).unwrap();
    std::fs::write(root.join("loans.prd.md"), EXAMPLE).unwrap();
    decompose(&root, &mut store);
    let without = EXAMPLE.replace("- AC-4.1: WHEN a loan is 1 day past its due date THE SYSTEM SHALL queue one overdue notice to the member's email address.\n", "");
    std::fs::write(root.join("loans.prd.md"), without).unwrap();
    assert_eq!(decompose(&root, &mut store).cancelled, ["REQ-4/AC-4.1"]);
    std::fs::write(root.join("loans.prd.md"), EXAMPLE).unwrap();
    let back = decompose(&root, &mut store);
    assert_eq!(back.revived, ["REQ-4/AC-4.1"]);
    assert_eq!(back.cancelled, ["REQ-4/AC-4.2"]);
    assert_eq!(status_of(&store, "REQ-4/AC-4.1").0, TaskStatus::Pending);
}
