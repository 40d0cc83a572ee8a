//! Storage smoke tests: a real PostgreSQL and a real MongoDB-protocol server,
//! from the environment's URLs or from containers, as the crate documents.

mod mongo;
mod postgres;
mod processes;
