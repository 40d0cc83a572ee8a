use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::principal::ClientId;
use crate::scope::Scopes;

/// The `type` claim of a user's access token.
pub const ACCESS_TOKEN_TYPE: &str = "access";

/// A JWT claim set as it arrives: every claim optional, so that the Principal
/// rule, not deserialisation, decides what a token means.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Subject: a user's id or a client's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// A user's email (user tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `"access"` on user tokens.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// The OAuth client the token was issued to (service tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Space-separated scopes (service tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience: one string, or several (RFC 7519 §4.1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Issued at, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Expiry, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Not before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// The token's unique id, used for revocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// The `aud` claim in either of its two shapes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// One audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

/// What every issued token carries besides its subject.
#[derive(Debug, Clone)]
pub struct Issue<'a> {
    /// The issuer (`iss`), the auth-api's public base URL.
    pub issuer: &'a str,
    /// The audience (`aud`).
    pub audience: &'a str,
    /// Issued at, seconds since the epoch.
    pub now: i64,
    /// Lifetime in seconds.
    pub lifetime: i64,
}

impl Claims {
    /// A user's access token claims.
    pub fn user(id: Uuid, email: &str, issue: &Issue<'_>) -> Self {
        Self {
            sub: Some(id.hyphenated().to_string()),
            email: Some(email.to_owned()),
            token_type: Some(ACCESS_TOKEN_TYPE.to_owned()),
            ..Self::common(issue)
        }
    }

    /// A service token's claims: `sub` = `client_id`, no email, no type.
    pub fn service(client_id: &ClientId, scopes: &Scopes, issue: &Issue<'_>) -> Self {
        Self {
            sub: Some(client_id.as_str().to_owned()),
            client_id: Some(client_id.as_str().to_owned()),
            scope: Some(scopes.to_string()),
            ..Self::common(issue)
        }
    }

    fn common(issue: &Issue<'_>) -> Self {
        Self {
            iss: Some(issue.issuer.to_owned()),
            aud: Some(Audience::One(issue.audience.to_owned())),
            iat: Some(issue.now),
            nbf: Some(issue.now),
            exp: Some(issue.now + issue.lifetime),
            jti: Some(Uuid::new_v4().to_string()),
            ..Self::default()
        }
    }
}
