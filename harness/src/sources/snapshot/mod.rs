//! Snapshots: every step's response normalised so that two runs, or two
//! implementations, can be compared field by field. The reference's are
//! committed in `scenarios/snapshots/` (insta's `.snap` format, reviewed
//! with `cargo insta review`); any other target is held against them, and
//! `conformance snapshot` writes a deployment's for comparing two
//! deployments.
//!
//! # Normalisation (the one documented place)
//! - Values the harness knows (ids, emails and names of its accounts, the
//!   group, captured values, the target's URLs) become `<name>`
//!   (`<alice.id>`), so a `sub` that is bob's instead of alice's shows.
//! - Secrets become `<secret>`; any other UUID `<uuid>`; RFC 3339 times
//!   `<rfc3339>`.
//! - A JWT becomes `{"<jwt>": {"header": …, "claims": …}}`, decoded; its
//!   `iat`, `exp`, `nbf` and `jti` become `<redacted>` and `exp - iat` is
//!   kept as `"lifetime"`. `exp`, `iat` and `nbf` numbers elsewhere
//!   (introspection) become `<time>`.
//! - OPEN fields are compared by type only: free text, and what the
//!   contract leaves to each deployment ([`OPEN_FIELDS`]).
//! - Arrays of scalars are sorted (no array of scalars in the contract has
//!   an order); arrays of objects keep one element, reduced to its types
//!   (lists change with what other scenarios wrote).
//! - Headers kept: `content-type` (without parameters), `cache-control`,
//!   `pragma`, `www-authenticate` (error descriptions cut), `location`.
//!
//! Layout: `normalise` makes an answer comparable, `compare` holds one
//! against a snapshot and makes the snapshot checks' verdicts, `files`
//! reads and writes `.snap` files.

mod compare;
mod files;
mod normalise;
#[cfg(test)]
mod tests;

pub use compare::{Allowed, Difference, Taken, compare, optional_members, render, verdicts};
pub use files::{
    Snapshot, Source, bundled_dir, contents, file, file_text, parse_text, read, step_key,
};
pub use normalise::{known_values, normalise};

/// Fields compared by type only, wherever they appear: free text, and
/// values each deployment chooses (its keys, issuer, audience, cursors).
pub const OPEN_FIELDS: &[&str] = &[
    "error_description",
    "next_cursor",
    "kid",
    "x",
    "y",
    "n",
    "e",
    "iss",
    "aud",
    "issuer",
    "name",
];

/// Fields the contract names in its tables: a difference in their
/// presence or type (or in a status or error code) is a core failure; any
/// other difference is strict.
pub const CONTRACT_FIELDS: &[&str] = &[
    "access_token",
    "token_type",
    "expires_in",
    "scope",
    "id",
    "email",
    "name",
    "org_id",
    "created_at",
    "members",
    "user_id",
    "role",
    "joined_at",
    "client_id",
    "client_secret",
    "scopes",
    "active",
    "sub",
    "exp",
    "iat",
    "messages",
    "next_cursor",
    "group_id",
    "sender_id",
    "content",
    "error",
    "error_description",
    "keys",
    "issuer",
    "token_endpoint",
    "jwks_uri",
    "introspection_endpoint",
    "revocation_endpoint",
    "grant_types_supported",
    "token_endpoint_auth_methods_supported",
    "scopes_supported",
    "type",
    "jti",
    "iss",
    "aud",
];
