//! The operator's endpoints, behind the admin token: they let the harness
//! provision its own users and clients.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use reference_shared::{ClientId, Scope, Scopes};
use serde::{Deserialize, Serialize};

use super::SCOPES_SUPPORTED;
use super::users::UserView;
use crate::auth::Admin;
use crate::domain::{Email, Password};
use crate::error::{ApiError, Json};
use crate::password;
use crate::state::AppState;
use crate::store::{ClientRecord, UserRecord, now};

/// `POST /admin/users` body.
#[derive(Debug, Deserialize)]
pub struct NewUser {
    email: String,
    password: String,
}

/// `POST /admin/users`: 201 `{id, email}`; a taken email, in any case, 409.
pub async fn create_user(
    State(state): State<AppState>,
    _: Admin,
    Json(request): Json<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let email = Email::parse(&request.email).map_err(ApiError::InvalidRequest)?;
    let password = Password::parse(&request.password).map_err(ApiError::InvalidRequest)?;
    let user = create_user_record(&state, email, &password).await?;
    Ok((
        StatusCode::CREATED,
        Json(UserView {
            id: user.id,
            email: user.email,
        }),
    ))
}

/// Hashes the password and stores the user; shared with seeding.
pub async fn create_user_record(
    state: &AppState,
    email: Email,
    password: &Password,
) -> Result<UserRecord, ApiError> {
    let secret = password.expose().to_owned();
    let password_hash = state.hashing().run(move || password::hash(&secret)).await?;
    let user = UserRecord {
        id: uuid::Uuid::now_v7(),
        email: email.as_str().to_owned(),
        password_hash,
        created_at: now(),
    };
    state.store().insert_user(&user).await?;
    tracing::info!(user_id = %user.id, "created a user");
    Ok(user)
}

/// `POST /admin/clients` body.
#[derive(Debug, Deserialize)]
pub struct NewClient {
    client_id: Option<String>,
    scopes: Vec<String>,
}

/// `POST /admin/clients` answer: the only time the secret is shown.
#[derive(Debug, Serialize)]
pub struct CreatedClient {
    client_id: String,
    client_secret: String,
    scopes: Vec<String>,
}

/// `POST /admin/clients`: 201 with a generated secret; a taken id, or one
/// equal to a user's id, 409.
pub async fn create_client(
    State(state): State<AppState>,
    _: Admin,
    Json(request): Json<NewClient>,
) -> Result<(StatusCode, Json<CreatedClient>), ApiError> {
    let client_id = match &request.client_id {
        Some(id) => ClientId::parse(id).map_err(|e| ApiError::InvalidRequest(e.to_string()))?,
        None => ClientId::parse(&format!("client-{}", uuid::Uuid::new_v4().simple()))
            .map_err(|e| ApiError::Internal(e.to_string()))?,
    };
    let scopes = parse_scopes(&request.scopes)?;
    let client_secret = password::new_client_secret();
    register_client(&state, &client_id, &client_secret, &scopes).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedClient {
            client_id: client_id.as_str().to_owned(),
            client_secret,
            scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        }),
    ))
}

/// Scopes a client may be registered for: known ones only.
pub fn parse_scopes(scopes: &[String]) -> Result<Scopes, ApiError> {
    scopes
        .iter()
        .map(|s| {
            let scope = Scope::parse(s).map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
            if SCOPES_SUPPORTED.contains(&scope.as_str()) {
                Ok(scope)
            } else {
                Err(ApiError::InvalidRequest(format!(
                    "unknown scope {s:?}; known: {}",
                    SCOPES_SUPPORTED.join(" ")
                )))
            }
        })
        .collect()
}

/// Stores a client with the digest of its secret; shared with seeding.
pub async fn register_client(
    state: &AppState,
    client_id: &ClientId,
    secret: &str,
    scopes: &Scopes,
) -> Result<(), ApiError> {
    state
        .store()
        .insert_client(&ClientRecord {
            client_id: client_id.as_str().to_owned(),
            secret_sha256: password::secret_digest(secret),
            scopes: scopes.to_string(),
            created_at: now(),
        })
        .await?;
    tracing::info!(client_id = %client_id, scopes = %scopes, "registered a client");
    Ok(())
}

/// `DELETE /admin/users/{id}`: 204; unknown 404. The user's memberships and
/// owned groups go, and the user's tokens are refused from now on.
pub async fn delete_user(
    State(state): State<AppState>,
    _: Admin,
    crate::error::Path(id): crate::error::Path<uuid::Uuid>,
) -> Result<impl IntoResponse, ApiError> {
    if state.store().delete_user(id).await? {
        tracing::info!(user_id = %id, "deleted a user");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no such user".to_owned()))
    }
}

/// `DELETE /admin/clients/{client_id}`: 204; unknown 404. The client's
/// tokens are refused from now on.
pub async fn delete_client(
    State(state): State<AppState>,
    _: Admin,
    crate::error::Path(client_id): crate::error::Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    if state.store().delete_client(&client_id).await? {
        state.clients().forget(&client_id);
        tracing::info!(client_id = %client_id, "deleted a client");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("no such client".to_owned()))
    }
}
