//! Where checks come from: the scenarios (the contract as data), the
//! snapshots of their answers, the generated properties of subject
//! parsing, the fuzzing of every operation, the forged tokens of the JWT
//! attacks.

pub(crate) mod attacks;
pub(crate) mod fuzz;
pub(crate) mod properties;
pub mod scenario;
pub mod snapshot;
