//! Who may talk to the daemon: a per-user token on every API call, a `Host`
//! check against DNS rebinding, and a size limit on request bodies.
//!
//! The token lives in `$XDG_CONFIG_HOME/tdd-orchestrator/token` (else
//! `~/.config/…`), created on first use with owner-only permissions. A
//! request carries it as `Authorization: Bearer <token>`, or as the
//! `tdd_token` cookie that opening the printed URL (`/?token=…`) sets once,
//! as Jupyter does. The cookie is `HttpOnly` and `SameSite=Strict`, so
//! another site's page cannot use it.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub const COOKIE: &str = "tdd_token";

/// The user's token: read, or created (32 random bytes, hex) when missing.
pub fn load_or_create_token(path: &Path) -> std::io::Result<String> {
    match fs::read_to_string(path) {
        Ok(text) if text.trim().len() >= 32 => {
            // A token others can read is not a secret: fix what we can.
            let mode = fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
            }
            return Ok(text.trim().to_string());
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut bytes = [0u8; 32];
    fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(token.as_bytes())?;
    file.write_all(b"\n")?;
    Ok(token)
}

/// Where the user's token lives.
pub fn default_token_path() -> Option<PathBuf> {
    tdd_engine::registry::user_dir("XDG_CONFIG_HOME", ".config").map(|d| d.join("token"))
}

/// Equal, in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The token a request carries, from its bearer header or its cookie.
pub fn presented(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    bearer.or_else(|| cookie(headers, COOKIE))
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

pub fn is_valid(state: &AppState, token: &str) -> bool {
    same(token, &state.token)
}

/// Refuses a request without the token: 401 with what to do.
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match presented(request.headers()) {
        Some(token) if is_valid(&state, &token) => next.run(request).await,
        _ => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "a token is required: send `Authorization: Bearer <token>` (the token is in the file `serve` printed), or open the URL `serve` printed once in this browser",
        )
        .into_response(),
    }
}

/// Refuses a request whose `Host` is not one this daemon answers to: a page
/// on another site that rebinds its name to 127.0.0.1 still sends its own
/// name.
pub async fn check_host(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if state
        .allowed_hosts
        .iter()
        .any(|h| h.eq_ignore_ascii_case(host))
    {
        return next.run(request).await;
    }
    ApiError::new(
        StatusCode::FORBIDDEN,
        format!(
            "host {host:?} is not this daemon's address ({}); use the URL `serve` printed",
            state.allowed_hosts.join(", ")
        ),
    )
    .into_response()
}

/// Refuses a body announced as too large before reading it (a body without
/// a length is cut off at the same limit by `DefaultBodyLimit`).
pub async fn limit_body(request: Request<Body>, next: Next) -> Response {
    let length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if length.is_some_and(|n| n > MAX_BODY_BYTES) {
        return too_large();
    }
    let response = next.run(request).await;
    // axum's own refusal of an unannounced oversized body is plain text: say the same thing.
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    response
}

fn too_large() -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the request body is larger than {} KiB; send a path instead of the file's content, or a smaller file",
            MAX_BODY_BYTES / 1024
        ),
    )
    .into_response()
}

/// The `Set-Cookie` value that stores the token in the browser.
pub fn set_cookie(token: &str) -> String {
    format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_file_is_created_once_owner_only() {
        let dir = std::env::temp_dir().join(format!("tdd-token-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let path = dir.join("cfg/token");
        let first = load_or_create_token(&path).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(load_or_create_token(&path).unwrap(), first);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(load_or_create_token(&path).unwrap(), first);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
