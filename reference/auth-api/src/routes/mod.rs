//! The HTTP surface: one module per area, assembled by [`router`].

mod admin;
mod groups;
mod health;
mod oauth;
mod users;

use axum::Router;
use axum::routing::{delete, get, post};
use reference_shared::http::contract_layers;
use reference_shared::{Claims, Issue};

use crate::error::ApiError;
use crate::state::{AppState, TokenSettings};

pub use admin::{create_user_record, parse_scopes, register_client};
pub use groups::create_group;
pub use oauth::SCOPES_SUPPORTED;

/// The largest request body accepted.
const BODY_LIMIT: usize = 64 * 1024;

/// Every route of the auth-api, with the contract's errors for unknown
/// paths, wrong methods, oversized bodies and panics.
pub fn router(state: AppState) -> Router {
    let router = Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/openapi.json", get(health::openapi))
        .route("/auth/login", post(users::login))
        .route("/auth/me", get(users::me))
        .route("/oauth/token", post(oauth::token))
        .route("/oauth/introspect", post(oauth::introspect))
        .route("/oauth/revoke", post(oauth::revoke))
        .route(
            "/.well-known/oauth-authorization-server",
            get(oauth::metadata),
        )
        .route("/.well-known/jwks.json", get(oauth::jwks))
        .route("/api/auth/groups", post(groups::create))
        .route("/api/auth/groups/{id}", get(groups::show))
        .route(
            "/api/auth/groups/{id}/members",
            get(groups::members).post(groups::add_member),
        )
        .route(
            "/api/auth/groups/{id}/members/{user_id}",
            delete(groups::remove_member),
        )
        .route("/admin/users", post(admin::create_user))
        .route("/admin/users/{id}", delete(admin::delete_user))
        .route("/admin/clients", post(admin::create_client))
        .route("/admin/clients/{client_id}", delete(admin::delete_client))
        .fallback(|| async { ApiError::NotFound("no such endpoint".to_owned()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state);
    contract_layers(router, BODY_LIMIT)
}

/// The common claims of a token issued now.
fn issue(settings: &TokenSettings, lifetime: i64) -> Issue<'_> {
    Issue {
        issuer: &settings.issuer,
        audience: &settings.audience,
        now: chrono::Utc::now().timestamp(),
        lifetime,
    }
}

fn sign(state: &AppState, claims: &Claims) -> Result<String, ApiError> {
    state
        .key()
        .sign(claims)
        .map_err(|e| ApiError::Internal(e.to_string()))
}
