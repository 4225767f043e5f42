//! Model-assisted decomposition: a PRD without requirements (free prose) is
//! given structure by the model of `[worker.api]`, in two steps (the
//! requirement list from the whole document, then each requirement's
//! criteria from its own source blocks only). Every answer is repaired,
//! validated with the PRD rules (`tdd_core::assist`), and on a problem
//! asked again with the problems, up to a bound. The result is a Markdown
//! PRD the user keeps and decomposes like any other.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde_json::Value;
use tdd_core::analysis::{Options, analyze};
use tdd_core::assist::check::{Context, assemble, check_outline, validate_detail, validate_list};
use tdd_core::assist::prompt::{self, DETAIL_TOOL, LIST_TOOL, SYSTEM};
use tdd_core::assist::repair::repair_json;
use tdd_core::assist::source::{self, MAX_DOCUMENT_CHARS};
use tdd_core::assist::{PrdOutline, RequirementList, detail_schema, list_schema};
use tdd_core::config::Layout;
use tdd_core::model::Format;
use tdd_core::plan::ProjectFiles;

use crate::planning::{self, Planned};
use crate::project;
use tdd_workers::api::structured::ModelClient;
use tdd_workers::{ApiConfig, Usage, WorkerError};

/// Tries per call before giving up (the first one included).
pub const DEFAULT_ATTEMPTS: u32 = 3;

/// What was asked, repaired and rejected, and the tokens it cost.
#[derive(Clone, Debug, Default)]
pub struct AssistReport {
    pub steps: Vec<StepReport>,
    pub usage: Usage,
    /// Warnings of the PRD rules on the result (vague words, say).
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct StepReport {
    /// `listing the requirements`, `criteria of REQ-2 (Share a list)`.
    pub step: String,
    pub attempts: u32,
    pub repairs: Vec<String>,
    /// The problems of each rejected answer, in order.
    pub rejected: Vec<Vec<String>>,
}

/// A structured PRD made from a free-form one.
#[derive(Clone, Debug)]
pub struct Assisted {
    pub outline: PrdOutline,
    pub markdown: String,
    pub report: AssistReport,
}

#[derive(Debug, thiserror::Error)]
pub enum AssistError {
    #[error(
        "{prd}: {step}: the model's answer was still invalid after {attempts} attempt(s){}; \
         the last problems were:\n{}\nTry a stronger model in [worker.api], or add structure \
         to the PRD yourself (docs/prd-format.md)",
        spent(.usage),
        bullets(.problems)
    )]
    Invalid {
        prd: String,
        step: String,
        attempts: u32,
        problems: Vec<String>,
        usage: Box<Usage>,
    },
    #[error("{prd}: {step}: {}{}", describe(.source), spent(.usage))]
    Provider {
        prd: String,
        step: String,
        source: WorkerError,
        usage: Box<Usage>,
    },
    #[error(
        "{prd} is {chars} characters, over the {max} one model call may carry: split it into \
         smaller documents and decompose each"
    )]
    TooLarge {
        prd: String,
        chars: usize,
        max: usize,
    },
    #[error("{0} has no text to give structure to: write what the product should do first")]
    Empty(String),
    #[error(
        "decompose --assist asks the model of [worker.api] in .tdd/config.toml, which is not \
         set: add a [worker.api] table with dialect, base_url and model (see docs/workers.md)"
    )]
    NotConfigured,
    #[error(
        "[worker.api] reads its key from the environment variable {0}, which is not set: \
         export it (or name another one with api_key_env)"
    )]
    MissingKey(String),
    #[error(transparent)]
    Planning(#[from] planning::PlanningError),
    #[error(transparent)]
    Project(#[from] project::ProjectError),
}

fn spent(usage: &Usage) -> String {
    if usage.calls == 0 {
        return String::new();
    }
    format!(
        " ({} model call(s), {} input and {} output tokens spent)",
        usage.calls, usage.input_tokens, usage.output_tokens
    )
}

/// A provider outage says so; any other failure of the request is not the answer's fault either.
fn describe(error: &WorkerError) -> String {
    match error {
        WorkerError::ProviderOutage(message) => format!("provider outage: {message}"),
        WorkerError::Failed(message) => format!("the model request failed: {message}"),
    }
}

fn bullets(problems: &[String]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
    lines.join("\n")
}

impl fmt::Display for StepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} attempt(s)", self.step, self.attempts)?;
        for repair in &self.repairs {
            write!(f, "\n  repaired: {repair}")?;
        }
        for (i, problems) in self.rejected.iter().enumerate() {
            write!(f, "\n  answer {} rejected:", i + 1)?;
            for p in problems {
                write!(f, "\n    - {p}")?;
            }
        }
        Ok(())
    }
}

/// True when a prose PRD (Markdown or plain text) has nothing the
/// deterministic passes can plan from: no requirements, no shared criteria.
/// A YAML or JSON PRD without requirements is broken, not prose.
pub fn needs_structure(planned: &Planned) -> bool {
    let analysis = analyze(&planned.path, &planned.text, &Options::default());
    matches!(analysis.prd.format, Format::Markdown | Format::Legacy)
        && analysis.prd.requirements.is_empty()
        && analysis.prd.shared_criteria.is_empty()
}

/// `notes/ideas.md` → `notes/ideas.prd.md`; a `.prd.md` input without
/// requirements → `<stem>.structured.prd.md`, so the input is never the target.
pub fn structured_path(input: &Path) -> std::path::PathBuf {
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "prd".to_string());
    let stem = name
        .rsplit_once('.')
        .map_or(name.as_str(), |(stem, _)| stem);
    let target = match stem.strip_suffix(".prd") {
        Some(base) => format!("{base}.structured.prd.md"),
        None => format!("{stem}.prd.md"),
    };
    input.with_file_name(target)
}

/// The model settings of `.tdd/config.toml`, with the key from the environment.
pub fn api_config(root: &Path) -> Result<ApiConfig, AssistError> {
    let config = project::load_config(root)?;
    let api = config
        .worker
        .api
        .as_ref()
        .ok_or(AssistError::NotConfigured)?;
    tdd_workers::process::mark_key_var(api.key_env());
    let key = std::env::var(api.key_env())
        .ok()
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| AssistError::MissingKey(api.key_env().to_string()))?;
    Ok(ApiConfig::from_settings(api, key))
}

/// Structures the PRD file `file` of the project at `root`; `progress` hears
/// each step as it starts.
pub fn assist_file(
    root: &Path,
    file: &Path,
    attempts: u32,
    progress: &mut dyn FnMut(&str),
) -> Result<Assisted, AssistError> {
    let settings = api_config(root)?;
    let planned = planning::plan_file(root, file)?;
    let config = project::load_config(root)?;
    let layout = config.project.layout();
    let project = planning::scan_project(root);
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| planned.path.clone());
    let job = Job {
        name: &name,
        layout: &layout,
        project: &project,
        attempts,
    };
    job.run(&settings, &planned.text, progress)
}

/// One document to structure.
pub struct Job<'a> {
    /// The document's name, in prompts, messages and the rendered PRD.
    pub name: &'a str,
    pub layout: &'a Layout,
    pub project: &'a ProjectFiles,
    pub attempts: u32,
}

impl Job<'_> {
    pub fn run(
        &self,
        settings: &ApiConfig,
        text: &str,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Assisted, AssistError> {
        let chars = text.chars().count();
        if chars > MAX_DOCUMENT_CHARS {
            return Err(AssistError::TooLarge {
                prd: self.name.to_string(),
                chars,
                max: MAX_DOCUMENT_CHARS,
            });
        }
        let blocks = source::blocks(text);
        if blocks.is_empty() {
            return Err(AssistError::Empty(self.name.to_string()));
        }
        let client = ModelClient::new(settings).map_err(|e| self.provider("connecting", e))?;
        let mut run = Run {
            job: self,
            client,
            report: AssistReport::default(),
        };
        let ctx = Context {
            layout: self.layout,
            project: self.project,
            source_name: self.name,
        };
        let step = "listing the requirements";
        progress(step);
        let list: RequirementList = run.step(
            step,
            LIST_TOOL,
            &list_schema(),
            &prompt::list_prompt(self.name, &blocks),
            |value| validate_list(value, &blocks, &ctx),
        )?;
        let mut accepted = BTreeMap::new();
        let language = self.layout.language.as_str();
        for req in &list.requirements {
            let step = format!("criteria of {} ({})", req.id, req.title);
            progress(&step);
            let user = prompt::detail_prompt(self.name, language, req, &list, &blocks);
            let detail = run.step(&step, DETAIL_TOOL, &detail_schema(), &user, |value| {
                validate_detail(value, req, &list, &accepted, &blocks, &ctx)
            })?;
            accepted.insert(req.id.clone(), detail);
        }
        let outline = assemble(&list, &accepted, &blocks);
        let checked = check_outline(&outline, &ctx).map_err(|problems| AssistError::Invalid {
            prd: self.name.to_string(),
            step: "checking the whole PRD".to_string(),
            attempts: 1,
            problems,
            usage: Box::new(run.report.usage),
        })?;
        run.report.warnings = checked.warnings;
        Ok(Assisted {
            outline,
            markdown: checked.markdown,
            report: run.report,
        })
    }

    fn provider(&self, step: &str, source: WorkerError) -> AssistError {
        AssistError::Provider {
            prd: self.name.to_string(),
            step: step.to_string(),
            source,
            usage: Box::default(),
        }
    }
}

struct Run<'a> {
    job: &'a Job<'a>,
    client: ModelClient,
    report: AssistReport,
}

impl Run<'_> {
    /// One call, repeated with the problems until an answer passes
    /// `validate` or the attempts run out.
    fn step<T>(
        &mut self,
        step: &str,
        tool: &str,
        schema: &Value,
        prompt_text: &str,
        validate: impl Fn(&Value) -> Result<T, Vec<String>>,
    ) -> Result<T, AssistError> {
        let mut report = StepReport {
            step: step.to_string(),
            ..StepReport::default()
        };
        let mut problems: Vec<String> = Vec::new();
        let mut previous = String::new();
        let attempts = self.job.attempts.max(1);
        for attempt in 1..=attempts {
            report.attempts = attempt;
            let user = if attempt == 1 {
                prompt_text.to_string()
            } else {
                prompt::retry_prompt(prompt_text, &previous, &problems)
            };
            let answer = match self.client.ask(SYSTEM, &user, tool, schema) {
                Ok(answer) => answer,
                Err(source) => {
                    self.report.steps.push(report);
                    return Err(AssistError::Provider {
                        prd: self.job.name.to_string(),
                        step: step.to_string(),
                        source,
                        usage: Box::new(self.report.usage),
                    });
                }
            };
            self.report.usage.add(answer.usage);
            let value = match answer.json {
                Some(value) => value,
                None => match repair_json(&answer.text) {
                    Ok(repaired) => {
                        report
                            .repairs
                            .extend(repaired.repairs.iter().map(ToString::to_string));
                        repaired.value
                    }
                    Err(problem) => {
                        problems = vec![problem];
                        previous = answer.text;
                        report.rejected.push(problems.clone());
                        continue;
                    }
                },
            };
            match validate(&value) {
                Ok(found) => {
                    self.report.steps.push(report);
                    return Ok(found);
                }
                Err(found) => {
                    problems = found;
                    previous = serde_json::to_string_pretty(&value).unwrap_or_default();
                    report.rejected.push(problems.clone());
                }
            }
        }
        self.report.steps.push(report);
        Err(AssistError::Invalid {
            prd: self.job.name.to_string(),
            step: step.to_string(),
            attempts,
            problems,
            usage: Box::new(self.report.usage),
        })
    }
}
