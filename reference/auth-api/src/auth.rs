//! Authentication as extractors: a handler states what it accepts by the
//! type it takes. [`Authenticated`] is anyone with a valid token, [`User`]
//! a person only, [`Admin`] the operator's admin token.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use reference_shared::http::bearer;
use reference_shared::{Principal, TokenError};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// The principal of a valid, unrevoked access token.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

/// A user principal; a service token gets 403 `forbidden`.
#[derive(Debug, Clone)]
pub struct User {
    /// The user's id.
    pub id: Uuid,
}

/// The operator, by the configured admin token.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

/// Verifies a token of this service's own: signature, claims, revocation,
/// and the Principal rule.
pub async fn principal_of(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let claims = state
        .verifier()
        .verify(token)
        .map_err(|e: TokenError| ApiError::InvalidToken(e.to_string()))?;
    if is_refused(state, &claims).await? {
        return Err(ApiError::InvalidToken(
            "the token has been revoked".to_owned(),
        ));
    }
    Principal::from_claims(&claims).map_err(|e| ApiError::InvalidToken(e.to_string()))
}

/// Whether a verified token was revoked, or issued to a user or client
/// deleted since.
pub async fn is_refused(
    state: &AppState,
    claims: &reference_shared::Claims,
) -> Result<bool, ApiError> {
    Ok(state
        .store()
        .is_refused(
            claims.jti.as_deref().unwrap_or_default(),
            claims.sub.as_deref().unwrap_or_default(),
            claims.iat.unwrap_or_default(),
        )
        .await?)
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers)?.ok_or(ApiError::MissingToken)?;
        Ok(Self(principal_of(state, token).await?))
    }
}

impl FromRequestParts<AppState> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Authenticated::from_request_parts(parts, state).await?.0 {
            Principal::User { id, .. } => Ok(Self { id }),
            Principal::Service { .. } => Err(ApiError::Forbidden(
                "this endpoint is for users; a service token cannot use it".to_owned(),
            )),
        }
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(expected) = state.admin_token() else {
            return Err(ApiError::NotFound(
                "the admin API is off: no admin token is configured".to_owned(),
            ));
        };
        let token = bearer(&parts.headers)?.ok_or(ApiError::MissingToken)?;
        if bool::from(token.as_bytes().ct_eq(expected.expose().as_bytes())) {
            Ok(Self)
        } else {
            Err(ApiError::InvalidToken(
                "this is not the admin token".to_owned(),
            ))
        }
    }
}
