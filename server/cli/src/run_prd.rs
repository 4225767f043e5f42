//! `run-prd`: the whole way from a PRD to a pull request — decompose (or
//! re-plan), run every task into the feature branch `tdd/<prd>`, and with
//! `--create-pr` push that branch and open a pull request through the GitHub
//! CLI (`gh`), when the run completed.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::Args;
use tdd_engine::execution::{RunStatus, RunSummary};
use tdd_engine::store::Store;
use tdd_engine::{planning, project};

use crate::run_cmd::{self, RunArgs};

#[derive(Args)]
pub struct RunPrdArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// When every task merged: push the feature branch to `origin` and open
    /// a pull request into the base branch with `gh`.
    #[arg(long)]
    pub create_pr: bool,
}

pub fn run_prd(args: RunPrdArgs) -> Result<ExitCode> {
    let Some(prd) = args.run.prd.clone() else {
        bail!("name the PRD: `tdd-orchestrator run-prd <prd>`");
    };
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let root = project::find_root(&cwd);
    let prd = cwd.join(prd);
    // Checked before any work: a missing `gh` should not cost a whole run.
    if args.create_pr {
        gh_version().context(
            "--create-pr needs the GitHub CLI `gh` on PATH (https://cli.github.com), \
             logged in with `gh auth login`; or run without --create-pr and open the pull request yourself",
        )?;
    }

    let planned = planning::plan_file(&root, &prd)?;
    if !planned.errors.is_empty() {
        for error in &planned.errors {
            eprintln!("{}: {}", planned.path, error.message);
        }
        bail!(
            "{} does not decompose ({} errors): fix them (`tdd-orchestrator decompose {}` shows where)",
            planned.path,
            planned.errors.len(),
            planned.path
        );
    }
    let mut store = Store::open(planning::database_path(&root))?;
    let changes = planning::apply(&mut store, &planned)?;
    drop(store);
    println!(
        "decomposed {}: {} tasks ({} added, {} re-planned)",
        planned.path,
        planned.graph.tasks.len(),
        changes.added.len(),
        changes.replanned.len() + changes.revived.len()
    );

    let summary = run_cmd::execute_run(&root, prd.clone(), &args.run, false)?;
    let code = run_cmd::print_summary(&summary);
    if !args.create_pr {
        return Ok(code);
    }
    if summary.status != RunStatus::Completed {
        eprintln!("no pull request: the run did not complete (see above)");
        return Ok(code);
    }
    let base = project::load_config(&root)?.project.base_branch;
    let title = planned
        .graph
        .prd_title
        .clone()
        .unwrap_or_else(|| planned.path.clone());
    let url = open_pull_request(&root, &summary, &base, &title)?;
    println!("pull request: {url}");
    Ok(code)
}

fn gh_version() -> Result<String> {
    let out = Command::new("gh").arg("--version").output()?;
    if !out.status.success() {
        bail!(
            "`gh --version` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string())
}

/// Pushes the feature branch and asks `gh` for the pull request; its URL.
fn open_pull_request(root: &Path, summary: &RunSummary, base: &str, title: &str) -> Result<String> {
    let branch = &summary.feature_branch;
    let push = Command::new("git")
        .args([
            "push",
            "--set-upstream",
            "origin",
            &format!("{branch}:{branch}"),
        ])
        .current_dir(root)
        .output()
        .context("could not run `git push`")?;
    if !push.status.success() {
        bail!(
            "`git push origin {branch}` failed: {}\nPush the branch yourself, then `gh pr create --base {base} --head {branch}`",
            String::from_utf8_lossy(&push.stderr).trim()
        );
    }
    let merged = summary
        .report
        .tasks
        .iter()
        .filter(|t| t.end == tdd_engine::scheduler::TaskEnd::Merged)
        .map(|t| format!("- {}", t.key))
        .collect::<Vec<_>>()
        .join("\n");
    let body = format!(
        "Every task of this PRD went RED → GREEN → VERIFY → REFACTOR, judged by the test runs; \
         each stage is one commit with `Tdd-Task`, `Tdd-Stage` and `Tdd-Evidence` trailers.\n\n\
         Merged in run {}:\n{merged}\n",
        summary.run_id
    );
    let out = Command::new("gh")
        .args([
            "pr", "create", "--base", base, "--head", branch, "--title", title, "--body", &body,
        ])
        .current_dir(root)
        .output()
        .context("could not run `gh pr create`")?;
    if !out.status.success() {
        bail!(
            "`gh pr create` failed: {}\nThe branch {branch} is pushed; open the pull request yourself",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
