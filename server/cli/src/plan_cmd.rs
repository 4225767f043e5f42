//! `decompose`, `status`, `tasks` and `export`: planning PRDs into the
//! project store and reading it back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tdd_engine::operations::{self, FoundTask, OpError};
use tdd_engine::planning;
use tdd_engine::project;
use tdd_engine::store::{Queries, Reader, Store, TaskRow};

use crate::{GraphFormat, assist_cmd, graph_view, ops_cmd, report};

fn project_root() -> Result<PathBuf> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    Ok(project::find_root(&cwd))
}

/// A reader on the project store, or `None` when nothing was decomposed yet.
fn open_reader(root: &Path) -> Result<Option<Reader>> {
    let path = planning::database_path(root);
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(Reader::open(&path)?))
}

pub fn decompose(
    prd: &Path,
    dry_run: bool,
    format: GraphFormat,
    assist: bool,
    force: bool,
) -> Result<ExitCode> {
    let root = project_root()?;
    let mut planned = planning::plan_file(&root, prd)?;
    let mut prd = prd.to_path_buf();
    let unstructured = tdd_engine::assist::needs_structure(&planned);
    if unstructured && assist {
        (prd, planned) = assist_cmd::structure(&root, &prd, force)?;
    } else if assist {
        eprintln!(
            "{} already has requirements: decomposing it as written (--assist not needed)",
            prd.display()
        );
    }
    if !planned.errors.is_empty() {
        let errors = planned.errors.iter().map(|e| (e.span, e.message.clone()));
        eprint!(
            "{}",
            report::located_errors(&prd.display().to_string(), &planned.text, errors)
        );
        eprintln!(
            "decomposition refused: {} error(s); nothing was stored",
            planned.errors.len()
        );
        if unstructured && !assist {
            eprintln!("{}", assist_cmd::hint(&prd));
        }
        return Ok(ExitCode::from(1));
    }
    let changes = if dry_run {
        let database = planning::database_path(&root);
        database
            .exists()
            .then(|| planning::preview(&database, &planned))
            .transpose()?
    } else {
        let mut store = Store::open(planning::database_path(&root))?;
        Some(planning::apply(&mut store, &planned)?)
    };
    match format {
        GraphFormat::Text => {
            print!("{}", graph_view::text(&planned.graph));
            if let Some(changes) = &changes {
                println!();
                if dry_run {
                    println!("Dry run: nothing was stored.");
                }
                print!("{}", graph_view::changes(changes));
            } else if dry_run {
                println!("\nDry run: nothing was stored.");
            }
        }
        GraphFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&planned.graph)?);
            if let Some(changes) = &changes {
                eprint!("{}", graph_view::changes(changes));
            }
        }
        GraphFormat::Mermaid => print!("{}", graph_view::mermaid(&planned.graph)),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn status() -> Result<ExitCode> {
    let root = project_root()?;
    let Some(reader) = open_reader(&root)? else {
        println!("No PRD has been decomposed yet: run `tdd-orchestrator decompose <prd>`.");
        return Ok(ExitCode::SUCCESS);
    };
    let prds = reader.read(|tx| planning::status(tx, &root))?;
    if prds.is_empty() {
        println!("No PRD has been decomposed yet: run `tdd-orchestrator decompose <prd>`.");
    }
    for prd in prds {
        let when = prd.decomposed_at.as_deref().unwrap_or("never");
        println!("{}  (decomposed {when})", prd.path);
        match prd.changed_since_decomposition {
            Some(true) => println!(
                "  the PRD changed since it was decomposed: run `tdd-orchestrator decompose {}`",
                prd.path
            ),
            Some(false) => {}
            None => println!("  the PRD file cannot be read any more"),
        }
        let counts: Vec<String> = prd
            .by_status
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        println!(
            "  tasks: {}",
            if counts.is_empty() {
                "none".to_string()
            } else {
                counts.join(", ")
            }
        );
        if !prd.flagged.is_empty() {
            println!("  PRD changed since done: {}", prd.flagged.join(", "));
        }
        for (run, usage) in &prd.usage_by_run {
            println!("  run {run}: {usage}");
        }
        if prd.usage_by_run.len() > 1
            && let Some(total) = prd.total_usage()
        {
            println!("  all runs: {total}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Tasks of every PRD, or of the one at `prd`.
fn selected_tasks(
    reader: &impl Queries,
    root: &Path,
    prd: Option<&Path>,
) -> Result<Vec<(String, TaskRow)>> {
    let wanted = prd.map(|p| planning::relative_path(root, p));
    let mut out = Vec::new();
    for row in reader.prds()? {
        if wanted.as_ref().is_some_and(|w| w != &row.path) {
            continue;
        }
        out.extend(
            reader
                .tasks(row.id)?
                .into_iter()
                .map(|t| (row.path.clone(), t)),
        );
    }
    if let Some(wanted) = wanted
        && out.is_empty()
    {
        bail!("{wanted} has not been decomposed: run `tdd-orchestrator decompose {wanted}`");
    }
    Ok(out)
}

pub fn tasks_list(prd: Option<&Path>) -> Result<ExitCode> {
    let root = project_root()?;
    let Some(reader) = open_reader(&root)? else {
        println!("No tasks yet: run `tdd-orchestrator decompose <prd>`.");
        return Ok(ExitCode::SUCCESS);
    };
    let tasks = reader.read(|tx| selected_tasks(tx, &root, prd))?;
    let width = tasks.iter().map(|(_, t)| t.key.len()).max().unwrap_or(0);
    let mut current = None;
    for (path, task) in &tasks {
        if current != Some(path) {
            println!("{path}");
            current = Some(path);
        }
        let flag = if task.prd_changed_since_done {
            "  (PRD changed since done)"
        } else {
            ""
        };
        println!(
            "  {:width$}  {:9}  {:11}  {}{flag}",
            task.key,
            task.status.as_str(),
            task.kind,
            task.title
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn tasks_show(key: &str, prd: Option<&Path>) -> Result<ExitCode> {
    let root = project_root()?;
    let Some(reader) = open_reader(&root)? else {
        // Exit 2 like before `retry` and `skip` existed (scripts rely on it).
        return Err(OpError::NoStore.into());
    };
    // One snapshot: the task and its attempts agree.
    let found = reader.read(|tx| -> Result<_, OpError> {
        let found = operations::find_task(tx, &root, key, prd)?;
        let attempts = tx.task_attempts(found.task.id)?;
        let mut runs = HashMap::new();
        for attempt in &attempts {
            if let Some(run) = tx.run(attempt.run_id)? {
                runs.insert(run.id, run);
            }
        }
        Ok((found, attempts, runs))
    });
    let (FoundTask { prd, task }, attempts, runs) = found?;
    println!("{}  {}", task.key, task.title);
    println!("  prd        {}", prd.path);
    println!(
        "  status     {}{}",
        task.status.as_str(),
        if task.prd_changed_since_done {
            " (PRD changed since done)"
        } else {
            ""
        }
    );
    println!("  kind       {}", task.kind);
    println!("  updated    {}", task.updated_at);
    println!("{}", serde_json::to_string_pretty(&task.spec)?);
    print!("{}", ops_cmd::attempts_text(&attempts, &runs));
    Ok(ExitCode::SUCCESS)
}

/// Every PRD in the store with its tasks: status plus everything planned.
pub fn export() -> Result<ExitCode> {
    let root = project_root()?;
    let Some(reader) = open_reader(&root)? else {
        println!("{}", json!({ "prds": [], "breakers": [] }));
        return Ok(ExitCode::SUCCESS);
    };
    let (prds, breakers) = reader.read(|tx| -> Result<(Vec<Value>, Vec<Value>)> {
        let breakers = tx
            .breakers()?
            .into_iter()
            .map(|b| json!({ "scope": b.scope, "name": b.name, "state": b.state, "failures": b.failures }))
            .collect();
        Ok((export_prds(tx)?, breakers))
    })?;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({ "prds": prds, "breakers": breakers }))?
    );
    Ok(ExitCode::SUCCESS)
}

/// Every PRD with its tasks, from one snapshot.
fn export_prds(tx: &impl Queries) -> Result<Vec<Value>> {
    let mut prds = Vec::new();
    for row in tx.prds()? {
        let mut tasks: Vec<Value> = Vec::new();
        for t in tx.tasks(row.id)? {
            let attempts = tx.task_attempts(t.id)?.len();
            tasks.push({
                let mut spec = t.spec;
                if let Value::Object(map) = &mut spec {
                    // The row's own columns win over whatever the spec holds.
                    map.insert("key".into(), json!(t.key));
                    map.insert("title".into(), json!(t.title));
                    map.insert("kind".into(), json!(t.kind));
                    map.insert("requirement".into(), json!(t.requirement));
                    map.insert("content_hash".into(), json!(t.content_hash));
                    map.insert("status".into(), json!(t.status.as_str()));
                    map.insert(
                        "prd_changed_since_done".into(),
                        json!(t.prd_changed_since_done),
                    );
                    map.insert("updated_at".into(), json!(t.updated_at));
                    map.insert("attempts".into(), json!(attempts));
                }
                spec
            });
        }
        prds.push(json!({
            "path": row.path,
            "format": row.format,
            "content_hash": row.content_hash,
            "decomposed_at": row.decomposed_at,
            "tasks": tasks,
        }));
    }
    Ok(prds)
}
