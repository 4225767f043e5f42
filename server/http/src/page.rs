//! `/`: the dashboard. Opening the URL `serve` printed (`/?token=…`) stores
//! the token in a cookie and redirects to `/`, so the token leaves the
//! address bar and the history. Until the panel UI is built into the
//! binary, the page says so and lists the projects.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::AppState;
use crate::auth;
use crate::error::ApiError;

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
            return page(
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
        Some(token) if auth::is_valid(&state, &token) => page(
            StatusCode::OK,
            "The dashboard's screens are not built into this version yet. The API is live: \
             <a href=\"/api/v1/projects\">/api/v1/projects</a> lists the registered projects; \
             see <code>docs/http-api.md</code>.",
        ),
        _ => page(
            StatusCode::UNAUTHORIZED,
            "Open the URL <code>tdd-orchestrator serve</code> printed: it carries the token once, then a cookie keeps it.",
        ),
    }
}

fn page(status: StatusCode, message: &str) -> Response {
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
