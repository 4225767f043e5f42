//! The `tdd-orchestrator` binary.

mod assist_cmd;
mod demo;
mod evidence_cmd;
mod graph_view;
mod ops_cmd;
mod plan_cmd;
mod report;
mod run_cmd;
mod run_prd;
mod serve_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use tdd_core::analysis::{Options, analyze_bytes};
use tdd_core::config::Language;
use tdd_engine::project;
use tdd_engine::store::claims::RunControl;

#[derive(Parser)]
#[command(
    name = "tdd-orchestrator",
    version,
    about = "Turns PRDs into tested code through test-driven development."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a small Rust project in a temporary directory and run its PRD
    /// through the whole pipeline with a scripted worker.
    Demo {
        /// Where to make the project (empty or new); a temporary directory by default.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Run a decomposed PRD's tasks: RED → GREEN → VERIFY → REFACTOR → merge.
    Run(run_cmd::RunArgs),
    /// Decompose a PRD, run all its tasks into `tdd/<prd>`, and with
    /// --create-pr open a pull request with the GitHub CLI.
    RunPrd(run_prd::RunPrdArgs),
    /// Go on with the last unfinished run (after a crash, cancel or budget
    /// stop), or let a paused run go on.
    Resume(run_cmd::RunArgs),
    /// Ask the running run to finish its running stages and start none.
    Pause,
    /// Ask the running run to stop now (its test runs are killed).
    Cancel,
    /// Tell a run with the human worker that you finished the task's
    /// current stage; the engine then judges it.
    Done {
        /// The task's key, e.g. REQ-1/AC-1.1.
        task: String,
    },
    /// Put a failed, blocked or skipped task back to pending for the next run.
    Retry(ops_cmd::RetryArgs),
    /// Skip a task (status cancelled): the tasks that depend on it may run.
    Skip(ops_cmd::SkipArgs),
    /// Circuit breakers: status, reset, isolate.
    Circuits {
        #[command(subcommand)]
        command: ops_cmd::CircuitsCommand,
    },
    /// Create .tdd/config.toml (with comments) and .tdd/.gitignore in the current project.
    Init {
        #[arg(long, value_enum, default_value_t = LanguageArg::Python)]
        language: LanguageArg,
        /// Overwrite an existing configuration.
        #[arg(long)]
        force: bool,
    },
    /// Write a template PRD that validates clean.
    InitPrd {
        /// Where to write it.
        #[arg(default_value = "PRD.md")]
        path: PathBuf,
        #[arg(long, default_value = "New feature")]
        title: String,
        #[arg(long, value_enum, default_value_t = LanguageArg::Python)]
        language: LanguageArg,
        #[arg(long)]
        force: bool,
    },
    /// Validate PRD files and print diagnostics; exits 1 when any file has errors.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
        /// Files larger than this are reported instead of validated.
        #[arg(long, default_value_t = 2048)]
        max_file_kib: usize,
    },
    /// Convert a legacy plain-text spec into the canonical Markdown PRD format.
    Convert {
        input: PathBuf,
        /// Output file; standard output when omitted.
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[arg(long)]
        force: bool,
    },
    /// Decompose a PRD into a graph of TDD tasks and store it (re-planning keeps what is done).
    Decompose {
        prd: PathBuf,
        /// Show the graph and what would change; store nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
        format: GraphFormat,
        /// For a PRD without requirements (free prose): ask the model of
        /// [worker.api] to structure it, write the result as `<name>.prd.md`
        /// next to it, and decompose that.
        #[arg(long)]
        assist: bool,
        /// With --assist: overwrite an existing `<name>.prd.md`.
        #[arg(long, requires = "assist")]
        force: bool,
    },
    /// Per PRD: tasks by state, and whether the PRD changed since it was decomposed.
    Status,
    /// List the stored tasks, or show one.
    Tasks {
        #[command(subcommand)]
        command: TasksCommand,
    },
    /// Print every stored PRD and its tasks.
    Export {
        #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
        format: ExportFormat,
    },
    /// Print a JSON Schema: the PRD's YAML/JSON form, .tdd/config.toml, the task graph, or
    /// the PRD outline a model supplies to `decompose --assist`.
    Schema {
        #[arg(value_enum)]
        which: SchemaArg,
    },
    /// Serve the dashboard and the HTTP API (every registered project) on
    /// 127.0.0.1:8420; prints the URL to open, with the token.
    Serve(serve_cmd::ServeArgs),
    /// The projects the daemon shows: list, add, remove.
    Projects {
        #[command(subcommand)]
        command: serve_cmd::ProjectsCommand,
    },
    /// Webhook deliveries ([[webhooks]] in .tdd/config.toml).
    Webhooks {
        #[command(subcommand)]
        command: serve_cmd::WebhooksCommand,
    },
    /// Re-check a feature branch's evidence from git alone: each task's
    /// tests must fail at its RED commit as recorded, and pass at its GREEN
    /// commit and at the tip. Exits 1 when any does not.
    VerifyEvidence(evidence_cmd::VerifyEvidenceArgs),
    /// Run the language server on stdin/stdout.
    Lsp {
        /// Accepted for clients that always pass it; stdio is the only transport.
        #[arg(long)]
        stdio: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemaArg {
    Prd,
    Config,
    Tasks,
    /// What `decompose --assist` asks the model for.
    PrdOutline,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Text,
    /// The task graph as JSON (schemas/tasks.schema.json).
    Json,
    /// A Mermaid flowchart.
    Mermaid,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    Json,
}

#[derive(Subcommand)]
enum TasksCommand {
    /// Every task with its state.
    List {
        /// Only this PRD's tasks.
        #[arg(long)]
        prd: Option<PathBuf>,
    },
    /// One task: its state and everything planned for it.
    Show {
        key: String,
        #[arg(long)]
        prd: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LanguageArg {
    Python,
    Rust,
    Typescript,
    Go,
}

impl From<LanguageArg> for Language {
    fn from(arg: LanguageArg) -> Self {
        match arg {
            LanguageArg::Python => Language::Python,
            LanguageArg::Rust => Language::Rust,
            LanguageArg::Typescript => Language::Typescript,
            LanguageArg::Go => Language::Go,
        }
    }
}

fn main() -> ExitCode {
    restore_sigpipe();
    init_logging();
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", describe(&err));
            ExitCode::from(2)
        }
    }
}

/// `tasks show | head` must end quietly, as other command-line tools do:
/// Rust ignores SIGPIPE, so a closed stdout would make `println!` panic.
#[allow(unsafe_code)]
fn restore_sigpipe() {
    // SAFETY: called first thing in `main`, before any thread starts;
    // setting a signal's disposition to the default has no other effect.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Logs go to stderr (stdout is data, or JSON-RPC under `lsp`). Level from `TDD_LOG`.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TDD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Init { language, force } => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            let root = project::find_root(&cwd);
            for path in project::init(&root, language.into(), force)? {
                println!("created {}", path.display());
            }
            serve_cmd::register(&root);
            Ok(ExitCode::SUCCESS)
        }
        Command::InitPrd {
            path,
            title,
            language,
            force,
        } => {
            let text = tdd_core::template::prd_template(&title, Language::from(language).as_str());
            project::write_new(&path, &text, force)?;
            println!("created {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate {
            files,
            format,
            max_file_kib,
        } => validate(&files, format, max_file_kib),
        Command::Convert {
            input,
            output,
            force,
        } => convert(&input, output.as_deref(), force),
        Command::Schema { which } => {
            print!(
                "{}",
                match which {
                    SchemaArg::Prd => tdd_core::schema::prd_schema_json(),
                    SchemaArg::Config => tdd_core::config::config_schema_json(),
                    SchemaArg::Tasks => tdd_core::plan::tasks_schema_json(),
                    SchemaArg::PrdOutline => tdd_core::assist::outline_schema_json(),
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Decompose {
            prd,
            dry_run,
            format,
            assist,
            force,
        } => plan_cmd::decompose(&prd, dry_run, format, assist, force),
        Command::Status => plan_cmd::status(),
        Command::Demo { dir } => demo::demo(dir),
        Command::Run(args) => run_cmd::run(args, false),
        Command::RunPrd(args) => run_prd::run_prd(args),
        Command::Resume(args) => run_cmd::run(args, true),
        Command::Pause => run_cmd::control(Some(RunControl::Pause)),
        Command::Cancel => run_cmd::control(Some(RunControl::Cancel)),
        Command::Done { task } => run_cmd::done(&task),
        Command::Retry(args) => ops_cmd::retry(args),
        Command::VerifyEvidence(args) => evidence_cmd::verify_evidence(args),
        Command::Skip(args) => ops_cmd::skip(args),
        Command::Circuits { command } => ops_cmd::circuits(command),
        Command::Tasks {
            command: TasksCommand::List { prd },
        } => plan_cmd::tasks_list(prd.as_deref()),
        Command::Tasks {
            command: TasksCommand::Show { key, prd },
        } => plan_cmd::tasks_show(&key, prd.as_deref()),
        Command::Export {
            format: ExportFormat::Json,
        } => plan_cmd::export(),
        Command::Serve(args) => serve_cmd::serve(args),
        Command::Projects { command } => serve_cmd::projects(command),
        Command::Webhooks { command } => serve_cmd::webhooks(command),
        Command::Lsp { stdio: _ } => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(tdd_lsp::serve_stdio());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn validate(files: &[PathBuf], format: OutputFormat, max_file_kib: usize) -> Result<ExitCode> {
    let options = Options {
        max_bytes: max_file_kib.saturating_mul(1024),
    };
    let mut reports = Vec::new();
    let mut unreadable = false;
    for path in files {
        match project::read_file(path) {
            Ok(bytes) => {
                let name = path.display().to_string();
                let analysis = analyze_bytes(&name, &bytes, &options);
                reports.push(report::FileReport::new(name, bytes, analysis));
            }
            Err(err) => {
                eprintln!("error: cannot read {err}");
                unreadable = true;
            }
        }
    }
    match format {
        OutputFormat::Text => print!("{}", report::text(&reports)),
        OutputFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&report::json(&reports))?)
        }
    }
    Ok(if unreadable {
        ExitCode::from(2)
    } else if reports.iter().any(|r| r.analysis.has_errors()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn convert(input: &Path, output: Option<&Path>, force: bool) -> Result<ExitCode> {
    let bytes = project::read_file(input)?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        bail!(
            "{} is not valid UTF-8; save it as UTF-8 first",
            input.display()
        );
    };
    let (prd, diags) = tdd_core::parse::legacy::parse(text);
    if prd.requirements.is_empty() && prd.nfrs.is_empty() {
        bail!(
            "{} has no legacy requirements (`FR-1: Title` lines) to convert",
            input.display()
        );
    }
    for d in diags {
        eprintln!("warning: {}: {}", input.display(), d.message);
    }
    let markdown = tdd_core::render::to_markdown(&prd);
    match output {
        Some(path) => {
            project::write_new(path, &markdown, force)?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{markdown}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// An error with its causes, each said once: many messages already quote
/// their cause, which `{:#}` would print a second time.
pub fn describe(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}
