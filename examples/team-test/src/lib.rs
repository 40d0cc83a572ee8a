//! An example of a team's own conformance test: see `tests/conformance.rs`
//! and the README's "In your own tests". Nothing here but the test.
