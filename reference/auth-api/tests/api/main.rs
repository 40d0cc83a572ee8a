//! The auth-api over real HTTP, every test on both stores: the embedded
//! SQLite and a real PostgreSQL (see `reference-stores` for where it comes
//! from). `TEST_LOG=1` shows the service's logs.

mod helpers;

mod admin;
mod groups;
mod login;
mod oauth;
mod outage;
mod robustness;
mod secrets;
mod startup;
