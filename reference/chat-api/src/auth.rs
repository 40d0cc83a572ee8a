use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use reference_shared::Principal;
use reference_shared::http::bearer;
use uuid::Uuid;

use crate::error::ApiError;
use crate::keys::VerifyError;
use crate::state::AppState;

/// A user, by a valid user token: verified against the auth-api's keys, then
/// confirmed active at its introspection endpoint (a revoked token is refused
/// everywhere). A service token is refused with 403: the chat-api is for people.
#[derive(Debug, Clone, Copy)]
pub struct User {
    /// The user's id (the token's `sub`).
    pub id: Uuid,
}

impl FromRequestParts<AppState> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers)?.ok_or(ApiError::MissingToken)?;
        let claims = state
            .keys()
            .verify(state.auth(), token)
            .await
            .map_err(|e| match e {
                VerifyError::Token(e) => ApiError::InvalidToken(e.to_string()),
                VerifyError::Upstream(e) => ApiError::Upstream(e),
            })?;
        match Principal::from_claims(&claims).map_err(|e| ApiError::InvalidToken(e.to_string()))? {
            Principal::User { id, .. } => {
                // The signature says who; only the auth-api knows whether the
                // token was revoked since.
                if !state.auth().is_active(token).await? {
                    return Err(ApiError::InvalidToken(
                        "the token is no longer active".to_owned(),
                    ));
                }
                Ok(Self { id })
            }
            Principal::Service { .. } => Err(ApiError::Forbidden(
                "the chat-api is for users; a service token cannot use it".to_owned(),
            )),
        }
    }
}
