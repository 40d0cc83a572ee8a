use crate::sources::scenario::ScenarioError;

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
    /// A kind of check could not run at all (its task died), so the report
    /// would lack it.
    #[error("{name} could not run: {why}")]
    Task {
        /// The check or scenario.
        name: String,
        /// What happened.
        why: String,
    },
    /// The run checked nothing: its selection matched no check, or every
    /// check it selected was skipped. A gate that checked nothing does
    /// not pass.
    #[error("nothing was checked: {0}")]
    NothingChecked(String),
    /// A file the run was asked to write could not be written.
    #[error("writing {path}: {why}")]
    Write {
        /// The file.
        path: String,
        /// The I/O error.
        why: String,
    },
}
