//! The dashboard: the panel UI's bundle (`editors/panel/dist`, built from
//! its source by `npm run build` and committed) embedded in the binary.
//! Opening the URL `serve` printed (`/?token=…`) stores the token in a
//! cookie and redirects to `/`, so the token leaves the address bar and the
//! history; every asset then needs the cookie like the API does.
//!
//! Also the embeddable views: `/embed/{id}` (a read-only status card) and
//! `/badge/{id}.svg`.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use rust_embed::RustEmbed;
use serde::Deserialize;

use crate::AppState;
use crate::auth;
use crate::error::ApiError;
use crate::projects;

#[derive(RustEmbed)]
#[folder = "../../editors/panel/dist/"]
struct Bundle;

#[derive(Deserialize)]
pub struct Landing {
    token: Option<String>,
}

pub async fn landing(
    State(state): State<AppState>,
    Query(query): Query<Landing>,
    headers: HeaderMap,
) -> Response {
    if let Some(token) = query.token {
        if !auth::is_valid(&state, &token) {
            return message(
                StatusCode::UNAUTHORIZED,
                "That token is not this daemon's. Open the URL <code>tdd-orchestrator serve</code> printed.",
            );
        }
        return (
            StatusCode::SEE_OTHER,
            [
                (header::SET_COOKIE, auth::set_cookie(&token)),
                (header::LOCATION, "/".to_string()),
            ],
        )
            .into_response();
    }
    match auth::presented(&headers) {
        Some(token) if auth::is_valid(&state, &token) => asset("index.html"),
        _ => message(
            StatusCode::UNAUTHORIZED,
            "Open the URL <code>tdd-orchestrator serve</code> printed: it carries the token once, then a cookie keeps it.",
        ),
    }
}

/// `/assets/{file}`: the bundle's scripts and styles (behind the token).
pub async fn assets(Path(file): Path<String>) -> Response {
    asset(&format!("assets/{file}"))
}

fn asset(path: &str) -> Response {
    let Some(file) = Bundle::get(path) else {
        return ApiError::not_found(format!(
            "{path} is not in the dashboard's bundle: rebuild it with `npm run build` in editors/panel"
        ))
        .into_response();
    };
    // Hashed names never change their content; index.html always may.
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, content_type(path)),
            (header::CACHE_CONTROL, cache),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        Body::from(file.data.into_owned()),
    )
        .into_response()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// `/embed/{id}`: the read-only status card, a screen of the same bundle.
pub async fn embed(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match projects::find(&state.registry, &id) {
        Ok(entry) => (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, format!("/#/p/{}/embed", entry.id))],
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// `/badge/{id}.svg`: "tdd | 3/5 merged", red when a task failed.
pub async fn badge(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(id) = file.strip_suffix(".svg") else {
        return ApiError::not_found("a badge is `/badge/<project>.svg`").into_response();
    };
    let entry = match projects::find(&state.registry, id) {
        Ok(entry) => entry,
        Err(e) => return e.into_response(),
    };
    let summary = tokio::task::spawn_blocking(move || projects::summary(&entry))
        .await
        .ok();
    let Some(summary) = summary else {
        return ApiError::internal("reading the project failed").into_response();
    };
    let count = |state: &str| summary.by_state.get(state).copied().unwrap_or(0);
    let failed = count("failed") + count("blocked");
    let (text, colour) = if summary.missing {
        ("missing".to_string(), "#9f9f9f")
    } else if summary.tasks == 0 {
        ("no tasks".to_string(), "#9f9f9f")
    } else if failed > 0 {
        (
            format!(
                "{}/{} merged, {failed} failed",
                count("done"),
                summary.tasks
            ),
            "#c62828",
        )
    } else {
        (
            format!("{}/{} merged", count("done"), summary.tasks),
            if count("done") == summary.tasks {
                "#15803d"
            } else {
                "#1d4ed8"
            },
        )
    };
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        badge_svg("tdd", &text, colour),
    )
        .into_response()
}

/// A flat two-part badge; widths from a rough 7 px a character.
fn badge_svg(label: &str, value: &str, colour: &str) -> String {
    let left = 10 + 7 * label.chars().count();
    let right = 10 + 7 * value.chars().count();
    let width = left + right;
    let value = value.replace('&', "&amp;").replace('<', "&lt;");
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"20\" role=\"img\" aria-label=\"{label}: {value}\">\
         <title>{label}: {value}</title>\
         <rect width=\"{left}\" height=\"20\" fill=\"#555\"/>\
         <rect x=\"{left}\" width=\"{right}\" height=\"20\" fill=\"{colour}\"/>\
         <g fill=\"#fff\" font-family=\"Verdana,DejaVu Sans,sans-serif\" font-size=\"11\">\
         <text x=\"5\" y=\"14\">{label}</text><text x=\"{x}\" y=\"14\">{value}</text></g></svg>",
        x = left + 5,
    )
}

fn message(status: StatusCode, message: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>tdd-orchestrator</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5\">\
         <h1>tdd-orchestrator</h1><p>{message}</p></body></html>"
    );
    (status, Html(html)).into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::not_found(
        "no such route: `GET /api/v1/projects` lists the projects; docs/http-api.md lists every route",
    )
}
