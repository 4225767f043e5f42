//! `fake-model [--port N] [--api-key KEY] [--solution FILE [--cheat KIND]] [SCRIPT]`:
//! serves a script file, a reference solution, or both (the script first)
//! on 127.0.0.1 until killed. Prints `listening on http://127.0.0.1:PORT`
//! when ready.

use std::path::PathBuf;
use std::process::ExitCode;

use tdd_fake_model::{Cheat, Config, FakeModel, Mode, Solution};

const USAGE: &str = "usage: fake-model [--port N] [--api-key KEY] \
[--solution SOLUTION.toml [--cheat edit_test|delete_test|write_outside_worktree|stub|skip_test]] \
[SCRIPT.toml|SCRIPT.json]";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut port = 0u16;
    let mut script: Option<PathBuf> = None;
    let mut solution: Option<PathBuf> = None;
    let mut cheat: Option<Cheat> = None;
    let mut api_key: Option<String> = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => match args.next().and_then(|p| p.parse().ok()) {
                Some(p) => port = p,
                None => return usage("--port needs a number"),
            },
            "--solution" => match args.next() {
                Some(p) => solution = Some(PathBuf::from(p)),
                None => return usage("--solution needs a file"),
            },
            "--cheat" => match args.next().map(|k| k.parse::<Cheat>()) {
                Some(Ok(c)) => cheat = Some(c),
                Some(Err(e)) => return usage(&e),
                None => return usage("--cheat needs a kind"),
            },
            "--api-key" => match args.next() {
                Some(k) => api_key = Some(k),
                None => return usage("--api-key needs a key"),
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ if script.is_none() && !arg.starts_with('-') => script = Some(PathBuf::from(arg)),
            _ => return usage(&format!("unexpected argument {arg}")),
        }
    }
    if script.is_none() && solution.is_none() {
        return usage("a script file or --solution is required");
    }
    if cheat.is_some() && solution.is_none() {
        return usage("--cheat needs --solution");
    }
    let mut config = match script.as_deref().map(Config::from_file) {
        None => Config::default(),
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            eprintln!("fake-model: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = solution {
        let solution = match Solution::from_file(&path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("fake-model: {e}");
                return ExitCode::from(2);
            }
        };
        config.mode = match cheat {
            Some(c) => Mode::Cheater(solution, c),
            None => Mode::Solver(solution),
        };
    }
    if let Some(key) = api_key {
        config.api_key = key;
    }
    let server = match FakeModel::start_on(port, config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fake-model: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::from(2);
        }
    };
    println!("listening on {}", server.base_url());
    loop {
        std::thread::park();
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("fake-model: {problem}\n{USAGE}");
    ExitCode::from(2)
}
