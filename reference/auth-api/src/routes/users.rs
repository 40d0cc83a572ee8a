use axum::extract::State;
use reference_shared::Claims;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::oauth::TokenResponse;
use crate::auth::User;
use crate::domain::Email;
use crate::error::{ApiError, Json};
use crate::password;
use crate::state::AppState;

/// `POST /auth/login` body.
#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    email: String,
    password: String,
}

/// `POST /auth/login`: a user token for a right email and password; one and
/// the same 401 for a wrong email and a wrong password, in the same time.
pub async fn login(
    State(state): State<AppState>,
    Json(request): Json<LoginRequest>,
) -> Result<TokenResponse, ApiError> {
    let user = match Email::parse(&request.email) {
        Ok(email) => state.store().user_by_email(email.as_str()).await?,
        Err(_) => None,
    };
    let hash = user.as_ref().map_or_else(
        || state.dummy_password_hash().to_owned(),
        |u| u.password_hash.clone(),
    );
    let password = request.password;
    let matches = state
        .hashing()
        .run(move || password::verify(&password, &hash))
        .await?;
    let Some(user) = user.filter(|_| matches) else {
        tracing::info!("a login failed");
        return Err(ApiError::InvalidCredentials);
    };
    let settings = state.tokens();
    let claims = Claims::user(
        user.id,
        &user.email,
        &super::issue(settings, settings.user_ttl),
    );
    tracing::info!(user_id = %user.id, "a user logged in");
    Ok(TokenResponse {
        access_token: super::sign(&state, &claims)?,
        token_type: "Bearer",
        expires_in: settings.user_ttl,
        scope: None,
    })
}

/// A user as the API shows it.
#[derive(Debug, Serialize)]
pub struct UserView {
    /// The user's id.
    pub id: Uuid,
    /// The user's email.
    pub email: String,
}

/// `GET /auth/me`: the user the token speaks for.
pub async fn me(State(state): State<AppState>, user: User) -> Result<Json<UserView>, ApiError> {
    let record =
        state.store().user_by_id(user.id).await?.ok_or_else(|| {
            ApiError::InvalidToken("the token's user no longer exists".to_owned())
        })?;
    Ok(Json(UserView {
        id: record.id,
        email: record.email,
    }))
}
