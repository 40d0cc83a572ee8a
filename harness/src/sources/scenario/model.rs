use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// Which gate a check belongs to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The documented flow and its obvious errors: every implementation passes it.
    Core,
    /// What the contract marks strict and the MUSTs and SHOULDs of the RFCs
    /// it builds on: every implementation that follows them passes it.
    Strict,
    /// What the reference chose where the contract and the RFCs are silent,
    /// and identity with its snapshots: a comparison, never a reason to
    /// fail a deployment unless asked for.
    Reference,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Self; 3] = [Self::Core, Self::Strict, Self::Reference];

    /// Parses `core`, `strict` or `reference`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "core" => Some(Self::Core),
            "strict" => Some(Self::Strict),
            "reference" => Some(Self::Reference),
            _ => None,
        }
    }

    /// `core`, `strict` or `reference`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Core => "core",
            Self::Strict => "strict",
            Self::Reference => "reference",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One scenario file.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it came from, as given to the loader.
    pub file: PathBuf,
    /// The scenario's id, e.g. `core.members`.
    pub id: String,
    /// A sentence saying what it shows.
    pub title: String,
    /// Capabilities the target must have, else the scenario is skipped
    /// (`admin`, `fault-injection`, `observation`, `uuid-client`).
    pub needs: Vec<String>,
    /// Tags, for `--tag`.
    pub tags: Vec<String>,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl Scenario {
    /// The checks it makes.
    pub fn checks(&self) -> impl Iterator<Item = &Check> {
        self.steps.iter().filter_map(|s| s.check.as_ref())
    }

    /// Whether any step uses a value whose name starts with `prefix`
    /// (`attack.`).
    pub fn uses_prefix(&self, prefix: &str) -> bool {
        self.steps.iter().any(|step| {
            matches!(&step.auth, Auth::Bearer(t) if t.contains(&format!("{{{{{prefix}")))
                || step.request.path.contains(&format!("{{{{{prefix}"))
        })
    }
}

/// A check a step makes: its stable id, level and the rule it enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Stable id, e.g. `core.members.service-token`.
    pub id: String,
    /// Its level.
    pub level: Level,
    /// The rule it enforces: `CONTRACT …`, `RFC … §…` or `decisions: …`
    /// (see [`crate::checking::rules`]).
    pub rule: String,
}

/// One request and what its answer must be.
#[derive(Debug, Clone)]
pub struct Step {
    /// Line of the step's `[[step]]` header in the file.
    pub line: usize,
    /// What the step does, for people.
    pub name: String,
    /// The check this step is; a step without one sets up later steps.
    pub check: Option<Check>,
    /// Who acts.
    pub auth: Auth,
    /// The request.
    pub request: Request,
    /// What the answer must be.
    pub expect: Expect,
    /// Values to keep for later steps: name → JSON pointer into the body.
    pub capture: BTreeMap<String, String>,
    /// A count of observed service-to-service calls to assert after the request.
    pub observe: Option<Observe>,
    /// What the step asks of the target is a MAY (of the contract or an
    /// RFC): an answer declining it skips the check, with the reason.
    pub may: Option<May>,
}

impl Step {
    /// The values the step refers to (`{{name}}` anywhere in its request,
    /// credentials, expectations or observation). Read off its debug form,
    /// which holds every string of the step as written, so that a field
    /// added later is not forgotten here.
    pub fn refers_to(&self) -> Vec<String> {
        super::template::names(&format!("{self:?}"))
    }
}

/// A step that exercises something an implementation MAY do: an
/// implementation that does not do it conforms, so the harness checks
/// what it does, never that it does it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct May {
    /// The statuses that decline it (a refusal the RFC allows for it).
    pub declined: Vec<u16>,
    /// What the MAY is and where it is written.
    pub reason: String,
}

/// Who sends a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// No credentials.
    Anonymous,
    /// A user's token, from logging in.
    User(String),
    /// A client's service token, by `client_credentials` with this scope.
    Service {
        /// The client's account name.
        client: String,
        /// The scope asked for; `None` asks for none (the default set).
        scope: Option<String>,
    },
    /// A client's credentials by HTTP Basic.
    Basic(String),
    /// These credentials (templated: a client a step made) by HTTP Basic.
    BasicWith {
        /// The client id.
        id: String,
        /// Its secret.
        secret: String,
    },
    /// A client's credentials in the form body.
    Form(String),
    /// A literal bearer token (templated).
    Bearer(String),
}

/// Which service a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// The auth-api.
    Auth,
    /// The chat-api.
    Chat,
    /// The harness's recorder between them (fault orders): needs
    /// `fault-injection`.
    Recorder,
}

/// A request, every string templated.
#[derive(Debug, Clone)]
pub struct Request {
    /// Where it goes.
    pub service: Service,
    /// The HTTP method.
    pub method: String,
    /// The path and query.
    pub path: String,
    /// Query parameters appended to the path, each value
    /// percent-encoded (a captured cursor is passed back as given,
    /// whatever characters it has).
    pub query: Vec<(String, String)>,
    /// Extra headers.
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Body,
    /// Send it this many times at once (load); the expectations hold for each.
    pub repeat: usize,
    /// Follow the pages of a listing to their end.
    pub walk: Option<Walk>,
}

/// How to walk a paged listing: each page's `items` are gathered, and the
/// next page is asked for with `param` = the page's `cursor` until that is
/// null or absent. The expectations then hold for
/// `{"status": …, "items": [every item], "pages": N}`.
#[derive(Debug, Clone)]
pub struct Walk {
    /// Pointer to a page's items.
    pub items: String,
    /// Pointer to a page's cursor.
    pub cursor: String,
    /// The query parameter that takes the cursor.
    pub param: String,
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    /// None.
    Empty,
    /// JSON.
    Json(serde_json::Value),
    /// `application/x-www-form-urlencoded`.
    Form(Vec<(String, String)>),
    /// Raw text with a content type.
    Raw {
        /// The `Content-Type`, if any.
        content_type: Option<String>,
        /// The text.
        text: String,
    },
}

/// What the answer must be.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// Allowed statuses (empty: any).
    pub status: Vec<u16>,
    /// The contract's error body with one of these codes (empty: any body).
    pub error: Vec<String>,
    /// Headers with exactly this value.
    pub headers: BTreeMap<String, String>,
    /// Headers that contain this text.
    pub header_contains: BTreeMap<String, String>,
    /// Headers that must be present and not contain this text.
    pub header_lacks: BTreeMap<String, String>,
    /// Headers that must be absent.
    pub header_absent: Vec<String>,
    /// A challenge `WWW-Authenticate` must carry.
    pub challenge: Option<ChallengeExpect>,
    /// Assertions on the JSON body.
    pub json: Vec<JsonAssert>,
    /// Assertions on JWTs in the body.
    pub jwt: Vec<JwtAssert>,
    /// Pointers to JWTs whose signature must verify with the key of the
    /// auth-api's JWKS that their `kid` names.
    pub jwt_verified: Vec<String>,
    /// (JWT, `expires_in`) pointers: the token's `exp - iat` must be the
    /// answer's `expires_in` (give or take a second or two).
    pub jwt_lifetime: Vec<(String, String)>,
    /// Each answer within this many milliseconds.
    pub within_ms: Option<u64>,
}

impl Expect {
    /// Whether it asks nothing of the answer.
    pub fn is_empty(&self) -> bool {
        self.status.is_empty()
            && self.error.is_empty()
            && self.headers.is_empty()
            && self.header_contains.is_empty()
            && self.header_lacks.is_empty()
            && self.header_absent.is_empty()
            && self.challenge.is_none()
            && self.json.is_empty()
            && self.jwt.is_empty()
            && self.jwt_verified.is_empty()
            && self.jwt_lifetime.is_empty()
            && self.within_ms.is_none()
    }
}

/// A challenge the answer's `WWW-Authenticate` must carry, compared as
/// RFC 9110 §11 reads it: the scheme without case, an auth-param's value
/// the same whether a token or a quoted-string.
#[derive(Debug, Clone, Default)]
pub struct ChallengeExpect {
    /// The scheme (`Bearer`, `Basic`).
    pub scheme: String,
    /// Auth-params it must carry with these values; `scope` is a list of
    /// scopes (RFC 6750 §3) that must include those named.
    pub params: BTreeMap<String, String>,
    /// Auth-params it must not carry.
    pub without: Vec<String>,
}

/// One assertion on a JSON value at a JSON pointer.
#[derive(Debug, Clone)]
pub struct JsonAssert {
    /// RFC 6901 pointer (templated), `""` for the whole document.
    pub path: String,
    /// What must hold there.
    pub op: JsonOp,
}

/// What must hold at a path.
#[derive(Debug, Clone)]
pub enum JsonOp {
    /// Equal to this (strings templated).
    Equals(serde_json::Value),
    /// A string equal to this but for ASCII case (RFC 6749 §5.1's
    /// `token_type`).
    EqualsIgnoringCase(String),
    /// Not equal to this.
    NotEquals(serde_json::Value),
    /// Of this JSON type.
    Type(JsonType),
    /// Absent.
    Absent,
    /// Present, any value.
    Present,
    /// A string containing this text.
    Contains(String),
    /// An array with an object having these fields equal.
    Item(serde_json::Map<String, serde_json::Value>),
    /// An array or string of this length.
    Length(usize),
    /// An array whose items' values at this pointer are pairwise distinct.
    Distinct(String),
    /// Equal to one of these.
    OneOf(Vec<serde_json::Value>),
    /// A non-empty array none of whose items has any of these members.
    ItemsLack(Vec<String>),
}

/// JSON types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    /// A string.
    String,
    /// A number.
    Number,
    /// An integer.
    Integer,
    /// true or false.
    Boolean,
    /// An array.
    Array,
    /// An object.
    Object,
    /// null.
    Null,
    /// A lower-case hyphenated UUID string.
    Uuid,
    /// An RFC 3339 timestamp string in UTC (`Z` or `+00:00`).
    Timestamp,
    /// An opaque id: any non-empty string (a message id: a UUID, a MongoDB
    /// `ObjectId`, …).
    Id,
    /// A cursor to the next page: a non-empty string or a number (the
    /// last page's is null or absent).
    Cursor,
}

impl JsonType {
    /// Parses a type name.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "string" => Self::String,
            "number" => Self::Number,
            "integer" => Self::Integer,
            "boolean" => Self::Boolean,
            "array" => Self::Array,
            "object" => Self::Object,
            "null" => Self::Null,
            "uuid" => Self::Uuid,
            "timestamp" => Self::Timestamp,
            "id" => Self::Id,
            "cursor" => Self::Cursor,
            _ => return None,
        })
    }
}

/// Assertions on a JWT found in the body.
#[derive(Debug, Clone)]
pub struct JwtAssert {
    /// Pointer to the token string.
    pub at: String,
    /// Which part.
    pub part: JwtPart,
    /// Assertions on that part.
    pub checks: Vec<JsonAssert>,
}

/// A JWT's header or claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtPart {
    /// The JOSE header.
    Header,
    /// The claim set.
    Claims,
}

/// Calls from the chat-api to the auth-api that the harness observed,
/// counted and inspected.
#[derive(Debug, Clone, Default)]
pub struct Observe {
    /// The method of the calls.
    pub method: String,
    /// Their path: exact, or a prefix when it ends in `*`.
    pub path: String,
    /// At most this many.
    pub at_most: Option<usize>,
    /// At least this many.
    pub at_least: Option<usize>,
    /// Each made with this kind of credentials (`service token`, …).
    pub credential: Option<String>,
    /// Each token request asking for this scope.
    pub scope: Option<String>,
    /// Which calls count.
    pub over: Window,
}

/// Which observed calls a step's `observe` looks at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Window {
    /// Those caused by this scenario's requests (by trace id, else by time).
    #[default]
    Scenario,
    /// Those made while this step's requests were in flight, whoever caused
    /// them: a token fetched for another scenario's message still shows
    /// that the chat-api did not reuse its token.
    Step,
    /// Every call of the run.
    Run,
}

impl Observe {
    /// Whether a call's method and path are the ones counted.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        method == self.method
            && match self.path.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => path == self.path,
            }
    }
}
