//! `serve` (the daemon) and `projects` (the registry it shows), and the
//! registration `init`, `lsp`, `run` and `serve` do of the project they run
//! in.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use tdd_engine::registry::Registry;

#[derive(Args)]
pub struct ServeArgs {
    /// The port to listen on.
    #[arg(long, default_value_t = 8420)]
    port: u16,
    /// The address to listen on: loopback unless you say otherwise.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Allow a non-loopback --host (anyone who can reach it and has the
    /// token can run code through your workers).
    #[arg(long)]
    allow_remote: bool,
}

#[derive(Subcommand)]
pub enum ProjectsCommand {
    /// Every registered project, with its id.
    List,
    /// Register a project directory (default: this one).
    Add { dir: Option<std::path::PathBuf> },
    /// Forget a project, by directory or id.
    Remove { project: String },
}

/// Registers the project at `root` in the user's registry, quietly: a
/// registry that cannot be written costs a warning, never the command.
pub fn register(root: &Path) {
    let added = Registry::for_user().and_then(|registry| registry.add(root));
    if let Err(e) = added {
        tracing::warn!("could not register {} with the daemon: {e}", root.display());
    }
}

pub fn serve(args: ServeArgs) -> Result<ExitCode> {
    if !args.host.is_loopback() && !args.allow_remote {
        bail!(
            "--host {} is not a loopback address: anyone who reaches it with the token can drive your workers; pass --allow-remote if that is what you want",
            args.host
        );
    }
    if !args.host.is_loopback() {
        eprintln!(
            "warning: listening on {} (not loopback): protect the token, and prefer an SSH tunnel",
            args.host
        );
    }
    let registry = Registry::for_user()?;
    if let Ok(cwd) = std::env::current_dir() {
        let root = tdd_engine::project::find_root(&cwd);
        if root.join(tdd_engine::project::TDD_DIR).is_dir() {
            register(&root);
        }
    }
    let token_path =
        tdd_http::auth::default_token_path().context("neither XDG_CONFIG_HOME nor HOME is set")?;
    let options = tdd_http::ServeOptions {
        addr: SocketAddr::new(args.host, args.port),
        token_path,
        registry,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(tdd_http::serve(options, |url| {
        println!("tdd-orchestrator serving the dashboard at {url}");
        println!("(the token is also in {})", token_file_shown());
    }))?;
    Ok(ExitCode::SUCCESS)
}

fn token_file_shown() -> String {
    tdd_http::auth::default_token_path()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

pub fn projects(command: ProjectsCommand) -> Result<ExitCode> {
    let registry = Registry::for_user()?;
    match command {
        ProjectsCommand::List => {
            let projects = registry.list()?;
            if projects.is_empty() {
                println!(
                    "no projects registered ({}): `init`, `lsp`, `run` and `serve` register the project they run in",
                    registry.path().display()
                );
            }
            for p in projects {
                let missing = if p.path.is_dir() { "" } else { "  (missing)" };
                println!("{}  {}{missing}", p.id, p.path.display());
            }
        }
        ProjectsCommand::Add { dir } => {
            let dir = match dir {
                Some(dir) => dir,
                None => std::env::current_dir().context("cannot read the current directory")?,
            };
            let entry = registry.add(&dir)?;
            println!("registered {}  {}", entry.id, entry.path.display());
        }
        ProjectsCommand::Remove { project } => {
            let entry = registry.remove(&project)?;
            println!("removed {}  {}", entry.id, entry.path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
pub enum WebhooksCommand {
    /// The newest delivery attempts, newest first: when, event, receiver,
    /// answer.
    Log {
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

pub fn webhooks(command: WebhooksCommand) -> Result<ExitCode> {
    let WebhooksCommand::Log { limit } = command;
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let root = tdd_engine::project::find_root(&cwd);
    let Some(reader) = tdd_engine::view::open(&root)? else {
        println!("no deliveries: this project has no store yet");
        return Ok(ExitCode::SUCCESS);
    };
    let rows = reader.read(|tx| {
        use tdd_engine::store::Queries;
        tx.webhook_deliveries(limit)
    })?;
    if rows.is_empty() {
        println!("no deliveries yet ([[webhooks]] in .tdd/config.toml; a run delivers)");
    }
    for row in rows {
        let answer = match (&row.error, row.status) {
            (None, Some(status)) => format!("delivered ({status})"),
            (Some(error), _) => format!("failed: {error}"),
            (None, None) => "delivered".to_string(),
        };
        println!(
            "{}  #{:<5} {:<22} {}  attempt {}  {answer}",
            row.at, row.seq, row.kind, row.target, row.attempt
        );
    }
    Ok(ExitCode::SUCCESS)
}
