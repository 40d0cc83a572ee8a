//! The HTTP surface, assembled by [`router`].

mod health;
mod messages;

use axum::Router;
use axum::routing::get;
use reference_shared::http::contract_layers;

use crate::error::ApiError;
use crate::state::AppState;

pub use messages::MAX_CONTENT_CHARS;

/// The largest request body accepted: 4000 characters of up to 4 bytes, and room.
const BODY_LIMIT: usize = 64 * 1024;

/// Every route of the chat-api, with the contract's errors for unknown
/// paths, wrong methods, oversized bodies and panics.
pub fn router(state: AppState) -> Router {
    let router = Router::new()
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
        .layer(axum::middleware::from_fn_with_state(
            state.auth().timeout(),
            crate::upstream::bounded,
        ))
        .with_state(state)
        .layer(axum::middleware::from_fn(crate::trace::propagate));
    contract_layers(router, BODY_LIMIT)
}
