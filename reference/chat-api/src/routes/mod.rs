//! The HTTP surface, assembled by [`router`].

mod health;
mod messages;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;
use reference_shared::http::{json_errors_only, log_requests};

use crate::error::ApiError;
use crate::state::AppState;

pub use messages::MAX_CONTENT_CHARS;

/// The largest request body accepted: 4000 characters of up to 4 bytes, and room.
const BODY_LIMIT: usize = 64 * 1024;

/// Every route of the chat-api, with the contract's errors for unknown
/// paths, wrong methods, oversized bodies and panics.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/openapi.json", get(health::openapi))
        .route(
            "/api/chat/groups/{group_id}/messages",
            get(messages::list).post(messages::send),
        )
        .route(
            "/api/chat/groups/{group_id}/messages/{id}",
            get(messages::show),
        )
        .fallback(|| async { ApiError::NotFound("no such endpoint".to_owned()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::map_response(json_errors_only))
        .layer(middleware::from_fn(log_requests))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            ApiError::Internal("a handler panicked".to_owned()).into_response()
        }))
        .with_state(state)
}
