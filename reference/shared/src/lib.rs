//! What the reference auth-api and chat-api share, so that both apply the
//! same rules to the same tokens.
//!
//! # Layout
//! - `claims`: the JWT claim set, and the user and service claim sets the
//!   auth-api issues.
//! - `principal`: the Principal rule of the contract: who a verified claim
//!   set speaks for, never judged by the shape of `sub`.
//! - `scope`: OAuth scope tokens and sets (RFC 6749 §3.3).
//! - `keys`: the signing key (Ed25519, P-256 or RSA), its JWK and `kid`,
//!   and the verifier that pins algorithm, `typ`, issuer, audience and
//!   lifetime.
//! - `error_body`: the contract's one error body.
//! - `form`: form-urlencoding of OAuth client credentials (RFC 6749 App. B).
//! - `secret`: [`Secret`], a string that never prints.
//! - `time`: how the APIs write timestamps.
//! - `http` (feature `http`): bearer credentials, the request log line and
//!   the JSON-errors safety net both services mount.
//! - `sqlite` (feature `sqlite`): the pool of the embedded SQLite store.

mod claims;
mod error_body;
pub mod form;
#[cfg(feature = "http")]
pub mod http;
mod keys;
mod principal;
mod scope;
mod secret;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod time;

pub use claims::{ACCESS_TOKEN_TYPE, Audience, Claims, Issue};
pub use error_body::ErrorBody;
pub use keys::{AT_JWT, Jwks, KeyError, SigningKey, TokenError, Verifier};
pub use principal::{ClientId, ClientIdError, Principal, PrincipalError};
pub use scope::{GROUPS_READ, Scope, ScopeError, Scopes};
pub use secret::Secret;
