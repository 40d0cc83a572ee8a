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

/// `GET /ready`: 200 when the database and the auth-api answer, else 503.
pub async fn ready(State(state): State<AppState>) -> Response {
    let database = state.store().ping().await;
    let auth = state.auth().healthy().await;
    let unavailable = |what: &str| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(ErrorBody::new(
                "upstream_unavailable",
                format!("{what} does not answer"),
            )),
        )
            .into_response()
    };
    match (database, auth) {
        (Ok(()), true) => axum::Json(json!({ "status": "ready" })).into_response(),
        (Err(e), _) => {
            tracing::warn!(error = %e, "the database does not answer");
            unavailable("the database")
        }
        (Ok(()), false) => unavailable("the auth-api"),
    }
}

/// `GET /openapi.json`.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
