//! `fake-model [--port N] SCRIPT`: serves a script file on 127.0.0.1
//! until killed. Prints `listening on http://127.0.0.1:PORT` when ready.

use std::path::PathBuf;
use std::process::ExitCode;

use tdd_fake_model::{Config, FakeModel};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut port = 0u16;
    let mut script: Option<PathBuf> = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => match args.next().and_then(|p| p.parse().ok()) {
                Some(p) => port = p,
                None => return usage("--port needs a number"),
            },
            "-h" | "--help" => {
                println!("usage: fake-model [--port N] SCRIPT.toml|SCRIPT.json");
                return ExitCode::SUCCESS;
            }
            _ if script.is_none() && !arg.starts_with('-') => script = Some(PathBuf::from(arg)),
            _ => return usage(&format!("unexpected argument {arg}")),
        }
    }
    let Some(script) = script else {
        return usage("a script file is required");
    };
    let config = match Config::from_file(&script) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fake-model: {e}");
            return ExitCode::from(2);
        }
    };
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
    eprintln!("fake-model: {problem}\nusage: fake-model [--port N] SCRIPT.toml|SCRIPT.json");
    ExitCode::from(2)
}
