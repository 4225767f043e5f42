//! `decompose --assist`: a PRD without requirements is structured by the
//! model of `[worker.api]`, written next to it as `<name>.prd.md`, and that
//! file is decomposed as usual. Progress, repairs, retries and token usage
//! go to stderr (stdout stays the graph).

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use tdd_engine::assist::{self, DEFAULT_ATTEMPTS};
use tdd_engine::planning::{self, Planned};
use tdd_engine::project;

/// What to do with a PRD that has nothing to plan from.
pub fn hint(prd: &Path) -> String {
    format!(
        "{} has no requirements to plan from: add them (docs/prd-format.md), or run \
         `tdd-orchestrator decompose {} --assist` to have the model of [worker.api] in \
         .tdd/config.toml write a structured {} from it",
        prd.display(),
        prd.display(),
        assist::structured_path(prd).display()
    )
}

/// Asks the model, writes the structured PRD and plans it: `(its path, its plan)`.
pub fn structure(root: &Path, prd: &Path, force: bool) -> Result<(PathBuf, Planned)> {
    let target = assist::structured_path(prd);
    if target.exists() && !force {
        bail!(
            "{} already exists: decompose it directly (`tdd-orchestrator decompose {}`), or pass \
             --force to write it again from {}",
            target.display(),
            target.display(),
            prd.display()
        );
    }
    let mut progress = |step: &str| eprintln!("asking the model: {step}");
    let assisted = assist::assist_file(root, prd, DEFAULT_ATTEMPTS, &mut progress)?;
    for step in &assisted.report.steps {
        if !step.repairs.is_empty() || !step.rejected.is_empty() {
            eprintln!("{step}");
        }
    }
    for warning in &assisted.report.warnings {
        eprintln!("warning: {warning}");
    }
    let usage = assisted.report.usage;
    eprintln!(
        "model usage: {} call(s), {} input tokens ({} cached), {} output tokens",
        usage.calls, usage.input_tokens, usage.cached_tokens, usage.output_tokens
    );
    project::write_new(&target, &assisted.markdown, force)?;
    eprintln!(
        "wrote {}: an ordinary PRD now; edit it and decompose it with `tdd-orchestrator decompose {}`",
        target.display(),
        target.display()
    );
    let planned = planning::plan_text(root, &target, assisted.markdown)?;
    Ok((target, planned))
}
