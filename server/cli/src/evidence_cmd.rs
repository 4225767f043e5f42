//! `verify-evidence`: re-checks a feature branch's stage commits by running
//! the tests at each task's RED and GREEN commits and at the tip (see
//! `tdd_engine::recheck`). Reads git and `.tdd/config.toml` only, never the
//! store, so it works on a fresh clone.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use git2::{BranchType, Repository};
use tdd_core::config::Language;
use tdd_engine::project;
use tdd_engine::recheck::{self, Check, TaskCheck};

use crate::LanguageArg;

#[derive(Args)]
pub struct VerifyEvidenceArgs {
    /// The feature branch, e.g. `tdd/calc` (on a fresh clone `origin/tdd/calc`
    /// works too); the only `tdd/*` branch when omitted.
    branch: Option<String>,
    /// The project's language when the checkout has no .tdd/config.toml.
    #[arg(long, value_enum)]
    language: Option<LanguageArg>,
    /// The most one test run may take, in seconds.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
}

pub fn verify_evidence(args: VerifyEvidenceArgs) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let root = project::find_root(&cwd);
    let mut config = project::load_config(&root)?;
    if let Some(language) = args.language {
        config.project.language = Language::from(language);
    }
    let branch = match args.branch {
        Some(branch) => branch,
        None => only_feature_branch(&root)?,
    };
    let checks = recheck::recheck(
        &root,
        &branch,
        &config.project.layout(),
        vec![("PYTHONDONTWRITEBYTECODE".into(), "1".into())],
        Duration::from_secs(args.timeout_secs),
    )?;
    print_table(&checks);
    let differ: Vec<&str> = checks
        .iter()
        .filter(|c| c.differs())
        .map(|c| c.task.as_str())
        .collect();
    if differ.is_empty() {
        println!("{branch}: the evidence of {} tasks holds", checks.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "{branch}: the evidence does not hold for {}",
            differ.join(", ")
        );
        Ok(ExitCode::from(1))
    }
}

/// The one `tdd/*` branch, local or `origin`'s.
fn only_feature_branch(root: &Path) -> Result<String> {
    let repo = Repository::discover(root).context("not in a git repository")?;
    let mut names = Vec::new();
    for branch in repo.branches(None)? {
        let (branch, kind) = branch?;
        let Some(name) = branch.name()? else { continue };
        let name = match kind {
            BranchType::Local => name.to_string(),
            BranchType::Remote => match name.strip_prefix("origin/") {
                Some(name) => name.to_string(),
                None => continue,
            },
        };
        if name.starts_with("tdd/") && !names.contains(&name) {
            names.push(name);
        }
    }
    match names.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("no tdd/* branch here: name the feature branch to check"),
        many => bail!(
            "several feature branches ({}): name the one to check",
            many.join(", ")
        ),
    }
}

fn print_table(checks: &[TaskCheck]) {
    let cell = |check: &Check| match check {
        Check::Agrees(found) => format!("ok: {found}"),
        Check::Differs(why) => format!("DIFFERS: {why}"),
        Check::NotApplicable(why) => format!("-: {why}"),
    };
    let rows: Vec<[String; 4]> = checks
        .iter()
        .map(|c| [c.task.clone(), cell(&c.red), cell(&c.green), cell(&c.tip)])
        .collect();
    let header = ["task", "RED", "GREEN", "tip"].map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, text) in widths.iter_mut().zip(row) {
            *w = (*w).max(text.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(text, w)| format!("{text:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}
