//! The scenario files' TOML as read, before any meaning is given to it.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub(super) id: String,
    pub(super) title: String,
    pub(super) level: String,
    /// The rule the scenario's checks enforce, unless a step names another.
    pub(super) rule: Option<String>,
    #[serde(default)]
    pub(super) tags: Vec<String>,
    #[serde(default)]
    pub(super) needs: Vec<String>,
    pub(super) step: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub(super) name: String,
    pub(super) check: Option<String>,
    pub(super) level: Option<String>,
    pub(super) rule: Option<String>,
    pub(super) auth: Option<RawAuth>,
    pub(super) request: RawRequest,
    #[serde(default)]
    pub(super) expect: RawExpect,
    #[serde(default)]
    pub(super) capture: BTreeMap<String, String>,
    pub(super) observe: Option<RawObserve>,
    pub(super) may: Option<RawMay>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMay {
    pub(super) declined: Vec<u16>,
    pub(super) reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    pub(super) user: Option<String>,
    pub(super) service: Option<String>,
    pub(super) scope: Option<String>,
    pub(super) basic: Option<String>,
    pub(super) form: Option<String>,
    pub(super) bearer: Option<String>,
    pub(super) secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRequest {
    pub(super) service: String,
    pub(super) method: String,
    pub(super) path: String,
    #[serde(default)]
    pub(super) query: toml::Table,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, String>,
    pub(super) json: Option<toml::Value>,
    pub(super) form: Option<toml::Table>,
    pub(super) body: Option<String>,
    pub(super) content_type: Option<String>,
    pub(super) repeat: Option<usize>,
    pub(super) walk: Option<RawWalk>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWalk {
    pub(super) items: String,
    pub(super) cursor: String,
    pub(super) param: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExpect {
    pub(super) status: Option<toml::Value>,
    pub(super) error: Option<toml::Value>,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) header_contains: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) header_lacks: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) header_absent: Vec<String>,
    pub(super) challenge: Option<RawChallenge>,
    #[serde(default)]
    pub(super) json: Vec<RawJsonAssert>,
    #[serde(default)]
    pub(super) jwt: Vec<RawJwt>,
    pub(super) within_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChallenge {
    pub(super) scheme: String,
    #[serde(default)]
    pub(super) params: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) without: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJsonAssert {
    pub(super) path: String,
    pub(super) equals: Option<toml::Value>,
    pub(super) equals_ignoring_case: Option<String>,
    pub(super) not_equals: Option<toml::Value>,
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    pub(super) absent: Option<bool>,
    pub(super) present: Option<bool>,
    pub(super) contains: Option<String>,
    pub(super) item: Option<toml::Table>,
    pub(super) length: Option<usize>,
    pub(super) distinct: Option<String>,
    pub(super) one_of: Option<Vec<toml::Value>>,
    pub(super) items_lack: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJwt {
    pub(super) at: String,
    #[serde(default)]
    pub(super) header: Vec<RawJsonAssert>,
    #[serde(default)]
    pub(super) claims: Vec<RawJsonAssert>,
    #[serde(default)]
    pub(super) verified: bool,
    pub(super) lifetime: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawObserve {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) at_most: Option<usize>,
    pub(super) at_least: Option<usize>,
    pub(super) credential: Option<String>,
    pub(super) scope: Option<String>,
    pub(super) over: Option<String>,
}

/// A TOML value as the JSON it stands for (a request body, an expected
/// value).
pub(super) fn to_json(value: toml::Value) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}
