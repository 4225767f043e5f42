//! The daemon, `tdd-orchestrator serve`: the only crate that knows HTTP.
//! It serves every registered project's view model (the same one the
//! language server carries over LSP) as a versioned JSON API with
//! server-sent events, runs the actions the CLI offers, and serves the
//! panel UI.
//!
//! - `api`: the table of endpoints, from which the router and the OpenAPI
//!   document are both built;
//! - `handlers`: one function per endpoint;
//! - `sse`: the event log as a stream, resumable by `Last-Event-ID`;
//! - `projects`: the registry's projects, their overview, their followers;
//! - `auth`: the token, the `Host` check, the body limit;
//! - `runs`: runs started from the daemon, cancelled when it stops.

pub mod api;
pub mod auth;
mod error;
mod handlers;
mod page;
mod projects;
mod prometheus;
mod runs;
mod sse;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use tdd_engine::registry::Registry;

pub use runs::Runs;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub token: Arc<str>,
    pub registry: Registry,
    /// `Host` header values this daemon answers to.
    pub allowed_hosts: Arc<Vec<String>>,
    watches: projects::Watches,
    pub runs: Runs,
}

impl AppState {
    pub fn new(token: String, registry: Registry, addr: SocketAddr) -> AppState {
        AppState {
            token: token.into(),
            registry,
            allowed_hosts: Arc::new(allowed_hosts(addr)),
            watches: projects::Watches::default(),
            runs: Runs::default(),
        }
    }
}

/// The names a browser may use for this address: for loopback,
/// `127.0.0.1`, `localhost` and `[::1]` with the port; otherwise the
/// address itself.
fn allowed_hosts(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        let mut hosts = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        if addr.ip().is_unspecified() {
            hosts.push(format!("{}:{port}", addr.ip()));
        }
        return hosts;
    }
    match addr.ip() {
        IpAddr::V4(ip) => vec![format!("{ip}:{port}")],
        IpAddr::V6(ip) => vec![format!("[{ip}]:{port}")],
    }
}

/// The whole application: the endpoints of [`api::ENDPOINTS`] (the token
/// required where they say so), the landing page, the `Host` check and the
/// body limit on everything.
pub fn router(state: AppState) -> Router {
    let mut open = Router::new();
    let mut protected = Router::new();
    for endpoint in api::ENDPOINTS {
        if endpoint.auth {
            protected = protected.route(endpoint.path, (endpoint.route)());
        } else {
            open = open.route(endpoint.path, (endpoint.route)());
        }
    }
    // The dashboard's files and embeddable views, behind the token too.
    let protected = protected
        .route("/assets/{*file}", axum::routing::get(page::assets))
        .route("/embed/{id}", axum::routing::get(page::embed))
        .route("/badge/{file}", axum::routing::get(page::badge));
    let protected = protected.route_layer(middleware::from_fn_with_state(
        state.clone(),
        auth::require_token,
    ));
    open.merge(protected)
        .route("/", axum::routing::get(page::landing))
        .fallback(page::not_found)
        .layer(DefaultBodyLimit::max(auth::MAX_BODY_BYTES))
        .layer(middleware::from_fn(auth::limit_body))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::check_host,
        ))
        .with_state(state)
}

/// How to serve.
pub struct ServeOptions {
    pub addr: SocketAddr,
    /// Where the token is (created if missing).
    pub token_path: PathBuf,
    pub registry: Registry,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("the token file {}: {source}", .path.display())]
    Token {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot listen on {addr}: {source} (is another `serve` running? choose another --port)"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// Serves until Ctrl-C or SIGTERM, then cancels the runs it started and
/// waits for them. `ready` gets the URL to open (with the token) once
/// listening.
pub async fn serve(options: ServeOptions, ready: impl FnOnce(&str)) -> Result<(), ServeError> {
    let token =
        auth::load_or_create_token(&options.token_path).map_err(|source| ServeError::Token {
            path: options.token_path.clone(),
            source,
        })?;
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: options.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(ServeError::Serve)?;
    let state = AppState::new(token.clone(), options.registry, addr);
    let runs = state.runs.clone();
    let host = match addr.ip() {
        ip if ip.is_unspecified() || ip.is_loopback() => format!("127.0.0.1:{}", addr.port()),
        _ => addr.to_string(),
    };
    ready(&format!("http://{host}/?token={token}"));
    axum::serve(listener, router(state))
        .with_graceful_shutdown(stopped())
        .await
        .map_err(ServeError::Serve)?;
    tokio::task::spawn_blocking(move || runs.stop_all())
        .await
        .ok();
    Ok(())
}

async fn stopped() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminate = async {
        match term.as_mut() {
            Some(signal) => {
                signal.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
