//! The reference chat-api of the conformance contract: a user sends a
//! message to a group; the chat-api checks her token against the auth-api's
//! keys, fetches the group and its members from the auth-api with its own
//! service token (`client_credentials`, `groups:read`), and stores the
//! message with the group's `org_id`.
//!
//! # Layout
//! - `config`: the typed configuration, from flags and environment.
//! - `app`: [`Application`]: build (store, auth-api client, listener), serve.
//! - `routes`: the HTTP surface and [`router`].
//! - `auth`: the user extractor.
//! - `keys`: the auth-api's key set, cached and refreshed on an unknown `kid`.
//! - `upstream`: the auth-api client: single-flight service token, group,
//!   members, and the mapping of its failures to 502/503/504.
//! - `trace`: W3C `traceparent` carried from a request to its upstream calls.
//! - `error`: [`ApiError`], the contract's error body for every failure.
//! - `store`: the message store trait and its MongoDB and SQLite backends.
//! - `state`: what the handlers share.

mod app;
mod auth;
mod config;
mod error;
mod keys;
mod routes;
mod state;
pub mod store;
mod trace;
mod upstream;

pub use app::Application;
pub use config::Config;
pub use error::ApiError;
pub use routes::{MAX_CONTENT_CHARS, router};
pub use state::AppState;
pub use upstream::UpstreamError;
