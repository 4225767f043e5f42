//! A scripted fake model server for tests, on 127.0.0.1. It speaks
//! Anthropic Messages, OpenAI Chat Completions and OpenAI Responses (JSON
//! and SSE), answers from a script of dialect-neutral replies (or, in
//! solver and cheater modes, from a reference [`Solution`]), injects
//! faults, checks the API key and records every request. See README.md.
//!
//! ```no_run
//! use tdd_fake_model::{Config, FakeModel, Reply};
//! let server = FakeModel::start(Config::with_key("k")).unwrap();
//! server.push(Reply::text("hello"));
//! // point a client at server.base_url() with key "k", then:
//! assert_eq!(server.requests().len(), 0);
//! ```

mod render;
mod request;
mod script;
mod server;
mod solution;
mod solver;

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

pub use request::{Dialect, Outcome, RecordedRequest};
pub use script::{
    Action, Config, Entry, Fault, Match, RandomFaults, Reply, ScriptError, StopReason, ToolCall,
    Usage,
};
pub use solution::{Cheat, Files, Solution, SolutionError, TaskSolution};
pub use solver::Mode;

/// A running server. It stops when dropped.
pub struct FakeModel {
    addr: SocketAddr,
    api_key: String,
    shared: server::Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeModel {
    /// Binds 127.0.0.1 on a free port and serves on a thread of its own,
    /// so synchronous tests can use it.
    pub fn start(config: Config) -> io::Result<FakeModel> {
        FakeModel::start_on(0, config)
    }

    /// As [`FakeModel::start`], on a given port (0 for any free one).
    pub fn start_on(port: u16, config: Config) -> io::Result<FakeModel> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let log = match &config.request_log {
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ),
            None => None,
        };
        let random = config.random_faults.map(|rf| {
            let seed = rf.seed;
            (rf, server::Rng(seed))
        });
        let shared = Arc::new(Mutex::new(server::State {
            api_key: config.api_key.clone(),
            script: VecDeque::from(config.script),
            random,
            records: Vec::new(),
            log,
            served: 0,
            mode: config.mode,
        }));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let served = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fake-model-{}", addr.port()))
            .spawn(move || runtime.block_on(server::serve(listener, served, stopped)))?;
        Ok(FakeModel {
            addr,
            api_key: config.api_key,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`, without `/v1` (what `ANTHROPIC_BASE_URL`
    /// wants; OpenAI clients append `/v1` themselves or are given it).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Appends a reply, a fault, or an [`Entry`] with a predicate.
    pub fn push(&self, entry: impl Into<Entry>) {
        self.state().script.push_back(entry.into());
    }

    /// Switches what answers requests the script has no entry for.
    pub fn set_mode(&self, mode: Mode) {
        self.state().mode = mode;
    }

    /// Script entries not used yet.
    pub fn remaining(&self) -> usize {
        self.state().script.len()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().records.clone()
    }

    /// Stops the server and waits for its thread; also done on drop.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn state(&self) -> MutexGuard<'_, server::State> {
        // A panic elsewhere must not hide the recorded requests from a test.
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.shutdown();
    }
}
