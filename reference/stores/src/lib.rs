//! Real databases for the reference services' tests and for the harness's
//! containerised reference stack.
//!
//! [`PostgresDatabase::create`] and [`MongoDatabase::create`] each hand out a
//! fresh database that nothing else uses, on a server found in this order:
//!
//! 1. `CONFORMANCE_POSTGRES_URL` / `CONFORMANCE_MONGO_URL`, an existing server;
//! 2. a container started with testcontainers when a Docker daemon answers: one
//!    container of each kind per process, shared, with a new database per call.
//!    The images default to the official `postgres` and `mongo` images and are
//!    overridden by `CONFORMANCE_POSTGRES_IMAGE` / `CONFORMANCE_MONGO_IMAGE`
//!    (`scripts/build-local-images` builds stand-ins where no registry is
//!    reachable);
//! 3. otherwise a [`StoreError::NoServer`] that says how to get either.
//!
//! Each database is dropped when its handle is, and containers are removed
//! when the process exits.
//!
//! # Layout
//! - `source`: which of the three ways applies, read from the environment.
//! - `docker`: the few Docker Engine calls made without testcontainers: is a
//!   daemon there, and removing this process's containers at exit.
//! - `containers`: the shared per-process containers and their readiness.
//! - `postgres`, `mongo`: the database handles.
//! - `error`: [`StoreError`].
//! - `cut`: [`Cuttable`], a TCP hop a test cuts to make a database outage.

mod containers;
mod cut;
mod docker;
mod error;
mod mongo;
mod postgres;
mod source;

pub use cut::Cuttable;
pub use error::{NoServer, StoreError};
pub use mongo::{MongoDatabase, is_duplicate_key};
pub use postgres::PostgresDatabase;
pub use source::{DEFAULT_MONGO_IMAGE, DEFAULT_POSTGRES_IMAGE};
