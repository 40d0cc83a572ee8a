//! The bare server: each measured endpoint doing only its essential work,
//! against the same databases and with the same key as the reference, and
//! nothing else (no revocation, no limits, no request log, no contract
//! error bodies beyond a status):
//! - `POST /oauth/token`: HTTP Basic, the SHA-256 of the secret compared in
//!   constant time with the one client it knows, an EdDSA JWT;
//! - `GET /api/auth/groups/{id}/members`: JWT verification, one SELECT
//!   joining members and users;
//! - `POST /api/chat/groups/{id}/messages`: JWT verification, one insert
//!   (into a collection with the index a listing needs, as the reference's).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use ed25519_dalek::Signer as _;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mongodb::bson::{self, Document, doc};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;
use subtle::ConstantTimeEq as _;
use uuid::Uuid;

/// The bare server's settings.
#[derive(Debug, clap::Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The Ed25519 key the reference signs with (PEM).
    #[arg(long)]
    signing_key: PathBuf,
    /// `iss` of the tokens issued and accepted.
    #[arg(long)]
    issuer: String,
    /// `aud` of the tokens issued and accepted.
    #[arg(long, default_value = "conformance-apis")]
    audience: String,
    /// The one client that may get tokens.
    #[arg(long)]
    client_id: String,
    /// Its secret.
    #[arg(long, env = "BARE_CLIENT_SECRET", hide_env_values = true)]
    client_secret: String,
    /// The reference auth-api's PostgreSQL database.
    #[arg(long, env = "BARE_DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// A MongoDB server.
    #[arg(long, env = "BARE_MONGO_URI", hide_env_values = true)]
    mongo_uri: String,
    /// The MongoDB database; messages go to its `bare_messages` collection.
    #[arg(long)]
    mongo_database: String,
}

struct Bare {
    client_id: String,
    secret_sha256: [u8; 32],
    /// The key, parsed once, and the tokens' encoded header.
    signing: (ed25519_dalek::SigningKey, String),
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    postgres: sqlx::PgPool,
    messages: mongodb::Collection<Document>,
}

/// The bare server's routes.
pub async fn router(config: &Config) -> anyhow::Result<axum::Router> {
    let pem = std::fs::read(&config.signing_key)?;
    let key = reference_shared::SigningKey::from_pem(&pem)?;
    let jwk = key.jwks().keys.remove(0);
    let header = json!({ "typ": "at+jwt", "alg": "EdDSA", "kid": key.kid() });
    let der = jsonwebtoken::EncodingKey::from_ed_pem(&pem)?;
    let signing = ed25519_dalek::SigningKey::from_pkcs8_der(der.as_bytes())?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[&config.issuer]);
    validation.set_audience(&[&config.audience]);
    let mut mongo = mongodb::options::ClientOptions::parse(&config.mongo_uri).await?;
    mongo.app_name = Some("bare".to_owned());
    let messages = mongodb::Client::with_options(mongo)?
        .database(&config.mongo_database)
        .collection("bare_messages");
    // The index the reference's listing needs: a store that can list
    // keeps it up at every insert.
    messages
        .create_index(
            mongodb::IndexModel::builder()
                .keys(doc! { "group_id": 1, "created_at": -1, "_id": -1 })
                .build(),
        )
        .await?;
    let bare = Bare {
        client_id: config.client_id.clone(),
        secret_sha256: Sha256::digest(config.client_secret.as_bytes()).into(),
        signing: (signing, b64(header.to_string().as_bytes())),
        decoding: DecodingKey::from_jwk(&jwk)?,
        validation,
        issuer: config.issuer.clone(),
        audience: config.audience.clone(),
        postgres: sqlx::PgPool::connect(&config.database_url).await?,
        messages,
    };
    Ok(axum::Router::new()
        .route("/oauth/token", post(token))
        .route("/api/auth/groups/{id}/members", get(members))
        .route("/api/chat/groups/{id}/messages", post(send))
        .with_state(Arc::new(bare)))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn refused(status: StatusCode) -> Response {
    status.into_response()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// The id and secret of an HTTP Basic header.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let (id, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

async fn token(State(bare): State<Arc<Bare>>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        return refused(StatusCode::BAD_REQUEST);
    };
    if !form
        .iter()
        .any(|(k, v)| k == "grant_type" && v == "client_credentials")
    {
        return refused(StatusCode::BAD_REQUEST);
    }
    let Some((id, secret)) = basic(&headers) else {
        return refused(StatusCode::UNAUTHORIZED);
    };
    let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    if id != bare.client_id || !bool::from(digest.ct_eq(&bare.secret_sha256)) {
        return refused(StatusCode::UNAUTHORIZED);
    }
    let now = now();
    let claims = json!({
        "iss": bare.issuer, "sub": id, "aud": bare.audience, "client_id": id,
        "scope": "groups:read", "iat": now, "nbf": now, "exp": now + 300,
        "jti": Uuid::new_v4(),
    });
    let (key, header) = &bare.signing;
    let message = format!("{header}.{}", b64(claims.to_string().as_bytes()));
    let signature = key.sign(message.as_bytes()).to_bytes();
    let access_token = format!("{message}.{}", b64(&signature));
    Json(json!({
        "access_token": access_token, "token_type": "Bearer",
        "expires_in": 300, "scope": "groups:read",
    }))
    .into_response()
}

/// The verified claims of the request's bearer token.
fn claims(bare: &Bare, headers: &HeaderMap) -> Option<Value> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ")?;
    jsonwebtoken::decode::<Value>(token, &bare.decoding, &bare.validation)
        .ok()
        .map(|t| t.claims)
}

async fn members(
    State(bare): State<Arc<Bare>>,
    Path(group): Path<Uuid>,
    headers: HeaderMap,
) -> Response {
    if claims(&bare, &headers).is_none() {
        return refused(StatusCode::UNAUTHORIZED);
    }
    let rows = sqlx::query(
        "SELECT m.user_id, u.email, m.role, m.joined_at FROM members m \
         JOIN users u ON u.id = m.user_id WHERE m.group_id = $1 \
         ORDER BY m.joined_at, m.user_id",
    )
    .bind(group)
    .fetch_all(&bare.postgres)
    .await;
    let Ok(rows) = rows else {
        return refused(StatusCode::SERVICE_UNAVAILABLE);
    };
    let members: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({
                "user_id": row.get::<Uuid, _>("user_id"),
                "email": row.get::<String, _>("email"),
                "role": row.get::<String, _>("role"),
                "joined_at": row.get::<chrono::DateTime<chrono::Utc>, _>("joined_at"),
            })
        })
        .collect();
    Json(json!({ "members": members })).into_response()
}

async fn send(
    State(bare): State<Arc<Bare>>,
    Path(group): Path<Uuid>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(claims) = claims(&bare, &headers) else {
        return refused(StatusCode::UNAUTHORIZED);
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return refused(StatusCode::BAD_REQUEST);
    };
    let Some(content) = body["content"].as_str() else {
        return refused(StatusCode::BAD_REQUEST);
    };
    let (id, created_at) = (Uuid::now_v7(), bson::DateTime::now());
    let sender = claims["sub"].as_str().unwrap_or_default();
    let document = doc! {
        "_id": id.to_string(), "group_id": group.to_string(),
        "sender_id": sender, "content": content, "created_at": created_at,
    };
    if bare.messages.insert_one(document).await.is_err() {
        return refused(StatusCode::SERVICE_UNAVAILABLE);
    }
    let message = json!({
        "id": id, "group_id": group, "sender_id": sender, "content": content,
        "created_at": created_at.try_to_rfc3339_string().unwrap_or_default(),
    });
    (StatusCode::CREATED, Json(message)).into_response()
}
