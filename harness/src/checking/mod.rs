//! Judging what came back: an answer against its step's expectations, a
//! verdict into an outcome, the rules and clauses checks name, the gate
//! between reports.

pub(crate) mod challenge;
pub mod clauses;
pub(crate) mod expect;
pub mod gate;
pub(crate) mod outcome;
pub mod rules;
pub(crate) mod verdict;
