//! The OAuth endpoints: `client_credentials` (RFC 6749 §4.4), introspection
//! (RFC 7662), revocation (RFC 7009), server metadata (RFC 8414) and the key
//! set (RFC 7517).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use reference_shared::{Claims, ClientId, GROUPS_READ, Jwks, Principal, Scopes};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{ApiError, Json};
use crate::password;
use crate::state::AppState;
use crate::store::ClientRecord;

/// The scopes this server knows.
pub const SCOPES_SUPPORTED: &[&str] = &[GROUPS_READ];

/// The parameters the OAuth endpoints define (RFC 6749 §4.4, RFC 7662 §2.1,
/// RFC 7009 §2.1, client authentication in the body §2.3.1).
const DEFINED: &[&str] = &[
    "grant_type",
    "scope",
    "client_id",
    "client_secret",
    "token",
    "token_type_hint",
];

/// The form parameters of an OAuth request: each defined one at most once
/// (RFC 6749 §3.2), an empty value counting as absent, the others ignored.
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(headers: &HeaderMap, uri: &Uri, body: &[u8]) -> Result<Self, ApiError> {
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(ApiError::oauth_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        // Credentials in a URI end up in logs and histories (RFC 6749 §2.3.1).
        if let Some(query) = uri.query() {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_str(query).unwrap_or_default();
            if pairs.iter().any(|(k, _)| k == "client_secret") || query.contains("client_secret") {
                return Err(ApiError::oauth_request(
                    "client credentials must not be sent in the query string",
                ));
            }
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| ApiError::oauth_request("the body is not valid form data"))?;
        // Parameters the endpoints define may come once (RFC 6749 §3.2);
        // others are ignored (§3.1), repeated or not. One pass, so a body
        // of many parameters costs its length, not its square.
        let mut seen = std::collections::HashSet::new();
        let mut kept = Vec::new();
        for (name, value) in pairs {
            if value.is_empty() || !DEFINED.contains(&name.as_str()) {
                continue;
            }
            if !seen.insert(name.clone()) {
                return Err(ApiError::oauth_request(format!(
                    "the parameter {name} is repeated"
                )));
            }
            kept.push((name, value));
        }
        Ok(Self(kept))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The client credentials of a request, by Basic or in the body, never both.
fn client_credentials(headers: &HeaderMap, form: &Form) -> Result<(String, String), ApiError> {
    let body_id = form.get("client_id");
    let body_secret = form.get("client_secret");
    let authorization = headers.get(header::AUTHORIZATION);
    if let Some(value) = authorization {
        let value = value.to_str().map_err(|_| ApiError::invalid_client())?;
        let encoded = match value.split_once(' ') {
            Some((scheme, encoded)) if scheme.eq_ignore_ascii_case("basic") => encoded,
            _ => return Err(ApiError::invalid_client()),
        };
        if body_secret.is_some() {
            return Err(ApiError::oauth_request(
                "use one client authentication method, not Basic and the body both",
            ));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(ApiError::invalid_client)?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(ApiError::invalid_client)?;
        let id = reference_shared::form::decode(id).ok_or_else(ApiError::invalid_client)?;
        let secret = reference_shared::form::decode(secret).ok_or_else(ApiError::invalid_client)?;
        if body_id.is_some_and(|b| b != id) {
            return Err(ApiError::oauth_request(
                "the client_id in the body differs from the authenticated client",
            ));
        }
        return Ok((id, secret));
    }
    match (body_id, body_secret) {
        (Some(id), Some(secret)) => Ok((id.to_owned(), secret.to_owned())),
        _ => Err(ApiError::OAuth {
            code: "invalid_client",
            description: "client authentication is required: HTTP Basic, or client_id and client_secret in the body".to_owned(),
            status: StatusCode::UNAUTHORIZED,
            basic_challenge: true,
        }),
    }
}

/// Authenticates the client of an OAuth request.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &Form,
) -> Result<Arc<ClientRecord>, ApiError> {
    let (id, secret) = client_credentials(headers, form)?;
    match state.clients().get(state.store(), &id).await? {
        Some(client) if password::secret_matches(&secret, &client.secret_sha256) => Ok(client),
        Some(_) => Err(ApiError::invalid_client()),
        None => {
            // As long as a wrong secret takes.
            let _ = password::secret_matches(&secret, &[0; 32]);
            Err(ApiError::invalid_client())
        }
    }
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A token answer (RFC 6749 §5.1), also used by `/auth/login`.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The JWT.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// Granted scopes (service tokens only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        no_store(axum::Json(self).into_response())
    }
}

/// `POST /oauth/token`: `client_credentials` only.
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<TokenResponse, ApiError> {
    let form = Form::parse(&headers, &uri, &body)?;
    match form.get("grant_type") {
        None => return Err(ApiError::oauth_request("grant_type is required")),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
            ));
        }
    }
    let client = authenticate(&state, &headers, &form).await?;
    let allowed = Scopes::parse(&client.scopes).map_err(|e| ApiError::Internal(e.to_string()))?;
    // No scope asked: every scope the client is registered for (RFC 6749 §3.3).
    let granted = match form.get("scope") {
        None => allowed,
        Some(asked) => {
            let asked = Scopes::parse(asked).map_err(|e| {
                ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_scope", e.to_string())
            })?;
            if !asked.is_subset(&allowed) {
                return Err(ApiError::oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "the client may not ask for this scope",
                ));
            }
            asked
        }
    };
    let client_id =
        ClientId::parse(&client.client_id).map_err(|e| ApiError::Internal(e.to_string()))?;
    let settings = state.tokens();
    let claims = Claims::service(
        &client_id,
        &granted,
        &super::issue(settings, settings.service_ttl),
    );
    tracing::info!(client_id = %client_id, scope = %granted, "issued a service token");
    Ok(TokenResponse {
        access_token: super::sign(&state, &claims)?,
        token_type: "Bearer",
        expires_in: settings.service_ttl,
        scope: Some(granted.to_string()),
    })
}

/// The authenticated client and the `token` parameter of an introspection
/// or revocation request.
async fn client_and_token(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> Result<(Arc<ClientRecord>, String), ApiError> {
    let form = Form::parse(headers, uri, body)?;
    let client = authenticate(state, headers, &form).await?;
    let token = form
        .get("token")
        .ok_or_else(|| ApiError::oauth_request("token is required"))?;
    Ok((client, token.to_owned()))
}

/// `POST /oauth/introspect` (RFC 7662): `{active: false}` and nothing else
/// for any token that is not valid here.
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (_, token) = client_and_token(&state, &headers, &uri, &body).await?;
    let token = token.as_str();
    let inactive = || no_store(axum::Json(json!({ "active": false })).into_response());
    let Ok(claims) = state.verifier().verify(token) else {
        return Ok(inactive());
    };
    let Ok(principal) = Principal::from_claims(&claims) else {
        return Ok(inactive());
    };
    if crate::auth::is_refused(&state, &claims).await? {
        return Ok(inactive());
    }
    let mut answer = json!({
        "active": true,
        "sub": claims.sub,
        "iss": claims.iss,
        "aud": claims.aud,
        "exp": claims.exp,
        "iat": claims.iat,
        "nbf": claims.nbf,
        "jti": claims.jti,
        "token_type": "Bearer",
    });
    if let (Value::Object(fields), Principal::Service { client_id, scopes }) =
        (&mut answer, &principal)
    {
        fields.insert("client_id".to_owned(), json!(client_id.as_str()));
        fields.insert("scope".to_owned(), json!(scopes.to_string()));
    }
    if let (
        Value::Object(fields),
        Principal::User {
            email: Some(email), ..
        },
    ) = (&mut answer, &principal)
    {
        fields.insert("username".to_owned(), json!(email));
    }
    Ok(no_store(axum::Json(answer).into_response()))
}

/// `POST /oauth/revoke` (RFC 7009): 200 for any token, valid or not. A
/// client may revoke user tokens and its own service tokens; another
/// client's token is left alone, without telling.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (client, token) = client_and_token(&state, &headers, &uri, &body).await?;
    if let Ok(claims) = state.verifier().verify(&token) {
        let owned = match Principal::from_claims(&claims) {
            Ok(Principal::User { .. }) => true,
            Ok(Principal::Service { client_id, .. }) => client_id.as_str() == client.client_id,
            Err(_) => false,
        };
        if let (true, Some(jti), Some(exp)) = (owned, &claims.jti, claims.exp) {
            let expires_at =
                chrono::DateTime::from_timestamp(exp, 0).unwrap_or_else(chrono::Utc::now);
            state.store().revoke(jti, expires_at).await?;
            tracing::info!(client_id = %client.client_id, "revoked a token");
        }
    }
    Ok(no_store(StatusCode::OK.into_response()))
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
pub async fn metadata(State(state): State<AppState>) -> Json<Value> {
    let issuer = &state.tokens().issuer;
    Json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": SCOPES_SUPPORTED,
    }))
}

/// `GET /.well-known/jwks.json`.
pub async fn jwks(State(state): State<AppState>) -> Json<Jwks> {
    Json(state.key().jwks())
}
