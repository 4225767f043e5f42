//! Every failure answers JSON `{ "error": "<what happened and what to do>" }`
//! with a status that says whose fault it is.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// The request was fine; the project's state refuses it (a run already
    /// going, no run to pause, …).
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.message }));
        (self.status, body).into_response()
    }
}

impl From<tdd_engine::store::StoreError> for ApiError {
    fn from(e: tdd_engine::store::StoreError) -> ApiError {
        ApiError::internal(e.to_string())
    }
}

impl From<tdd_engine::view::ViewError> for ApiError {
    fn from(e: tdd_engine::view::ViewError) -> ApiError {
        match e {
            tdd_engine::view::ViewError::NoTask { .. } => ApiError::not_found(e.to_string()),
            tdd_engine::view::ViewError::Ambiguous { .. } => ApiError::bad_request(e.to_string()),
            tdd_engine::view::ViewError::Store(_) => ApiError::internal(e.to_string()),
        }
    }
}
