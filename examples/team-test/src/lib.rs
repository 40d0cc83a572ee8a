//! An example of a team's own conformance test: see `tests/conformance.rs`
//! and docs/library.md. Nothing here but the test.
