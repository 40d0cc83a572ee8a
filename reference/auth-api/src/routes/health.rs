use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use reference_shared::ErrorBody;
use serde_json::json;

use crate::state::AppState;

/// The OpenAPI document, kept beside the crate's sources.
const OPENAPI: &str = include_str!("../../openapi.json");

/// `GET /health`: 200 while the process runs.
pub async fn health() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

/// `GET /ready`: 200 when the database answers, else 503.
pub async fn ready(State(state): State<AppState>) -> Response {
    match state.store().ping().await {
        Ok(()) => axum::Json(json!({ "status": "ready" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(ErrorBody::new(
                    "upstream_unavailable",
                    "the database does not answer",
                )),
            )
                .into_response()
        }
    }
}

/// `GET /openapi.json`.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
