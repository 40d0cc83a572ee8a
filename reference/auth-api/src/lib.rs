//! The reference auth-api of the conformance contract: user login, OAuth2
//! `client_credentials`, groups and members readable by users and services,
//! introspection, revocation, metadata and keys.
//!
//! `main.rs` only reads the configuration and calls [`Application`]; tests
//! and the harness start the same application in-process on port 0, or call
//! [`router`] directly.
//!
//! # Layout
//! - `config`: the typed configuration, from flags and environment.
//! - `app`: [`Application`]: build (key, store, seed, listener) and serve.
//! - `routes`: the HTTP surface, one module per area, and [`router`].
//! - `auth`: extractors yielding the request's principal.
//! - `clients`: registered clients, read through a short-lived cache.
//! - `error`: [`ApiError`], the contract's error body for every failure.
//! - `domain`: parsed input (emails, passwords, group names).
//! - `password`: argon2id passwords and SHA-256-stored client secrets.
//! - `store`: storage traits and the PostgreSQL and SQLite backends.
//! - `seed`: creating fixture accounts at start-up.
//! - `state`: what the handlers share.

mod app;
mod auth;
mod clients;
mod config;
mod domain;
mod error;
mod password;
mod routes;
mod seed;
mod state;
pub mod store;

pub use app::Application;
pub use config::Config;
pub use error::ApiError;
pub use reference_shared::Secret;
pub use routes::router;
pub use seed::{Seed, SeedError};
pub use state::{AppState, TokenSettings};
