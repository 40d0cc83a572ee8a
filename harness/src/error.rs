use crate::scenario::ScenarioError;

/// Why the harness could not run (exit code 2). A check that fails is not
/// one of these: it is a [`crate::CheckOutcome`].
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A scenario file is broken.
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// The target does not answer.
    #[error("the target does not answer: {0}")]
    Unreachable(String),
    /// The target's accounts could not be made or found.
    #[error("provisioning: {0}")]
    Provision(String),
    /// The reference stack could not start.
    #[error("starting the reference stack: {0}")]
    Stack(String),
}
