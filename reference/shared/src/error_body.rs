use serde::{Deserialize, Serialize};

/// The contract's error body: `{"error": "<code>", "error_description": "<text>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A machine-readable code, e.g. `invalid_token`.
    pub error: String,
    /// A sentence for people; never holds a secret.
    pub error_description: String,
}

impl ErrorBody {
    /// An error body with this code and description.
    pub fn new(error: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            error_description: description.into(),
        }
    }
}
