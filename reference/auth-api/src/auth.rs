//! Authentication as extractors: a handler states what it accepts by the
//! type it takes. [`Authenticated`] is anyone with a valid token, [`User`]
//! a person only, [`Admin`] the operator's admin token.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use reference_shared::http::bearer;
use reference_shared::{Claims, Principal, TokenError};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::TokenRef;

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

/// A token whose signature and claims verified and whose principal the
/// Principal rule gives, not yet held against revocations: for handlers
/// that check those in the same query as what they read
/// ([`crate::store::Groups::read_group`]), and must refuse with [`revoked`]
/// when it says so.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Who the token speaks for.
    pub principal: Principal,
    claims: Claims,
}

impl Verified {
    /// Verifies a token of this service's own: signature, claims and the
    /// Principal rule; not revocation.
    fn of(state: &AppState, token: &str) -> Result<Self, ApiError> {
        let claims = state
            .verifier()
            .verify(token)
            .map_err(|e: TokenError| ApiError::InvalidToken(e.to_string()))?;
        let principal =
            Principal::from_claims(&claims).map_err(|e| ApiError::InvalidToken(e.to_string()))?;
        Ok(Self { principal, claims })
    }

    /// The token as revocation knows it.
    pub fn token(&self) -> TokenRef<'_> {
        token_ref(&self.claims)
    }
}

/// The token as revocation knows it.
fn token_ref(claims: &Claims) -> TokenRef<'_> {
    TokenRef {
        jti: claims.jti.as_deref().unwrap_or_default(),
        subject: claims.sub.as_deref().unwrap_or_default(),
        iat: claims.iat.unwrap_or_default(),
    }
}

/// The answer to a token that was revoked, or whose subject was deleted.
pub fn revoked() -> ApiError {
    ApiError::InvalidToken("the token has been revoked".to_owned())
}

/// Verifies a token of this service's own: signature, claims, the
/// Principal rule and revocation.
pub async fn principal_of(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let verified = Verified::of(state, token)?;
    if is_refused(state, &verified.claims).await? {
        return Err(revoked());
    }
    Ok(verified.principal)
}

/// Whether a verified token was revoked, or issued to a user or client
/// deleted since.
pub async fn is_refused(state: &AppState, claims: &Claims) -> Result<bool, ApiError> {
    Ok(state.store().is_refused(token_ref(claims)).await?)
}

impl FromRequestParts<AppState> for Verified {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers)?.ok_or(ApiError::MissingToken)?;
        Self::of(state, token)
    }
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
