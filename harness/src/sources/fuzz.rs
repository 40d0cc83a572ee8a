//! Bad input for every operation of the contract's OpenAPI documents (the
//! reference's, bundled with the harness, so that check ids are the same
//! for every target): malformed JSON, bodies that are not objects, each
//! property with a wrong type, non-UTF-8 bodies, headers and paths,
//! oversized bodies and headers, bad path and query parameters, and
//! proptest-generated bodies. Every answer must be free of 5xx and, when
//! it is an error, the contract's JSON error body; input that is wrong
//! beyond doubt must be refused with a 4xx.

use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use reference_shared::Secret;
use serde_json::{Value, json};

use crate::checking::verdict::{Spec, Verdict};
use crate::run::client::{self, Client, Outgoing};
use crate::sources::scenario::Level;

/// The contract's OpenAPI documents.
const AUTH_API: &str = include_str!("../../../reference/auth-api/openapi.json");
const CHAT_API: &str = include_str!("../../../reference/chat-api/openapi.json");

/// Where the fuzzing checks come from, in reports.
const GENERATOR: &str = "fuzzing (the contract's OpenAPI operations)";

/// A header far over what servers and proxies take (8 to 16 KiB).
const OVERSIZED_HEADER: usize = 64 * 1024;
/// A body far over any limit the contract's requests need.
const OVERSIZED_BODY: usize = 1024 * 1024 + 1;

/// Which service an operation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Auth,
    Chat,
}

impl Api {
    /// The service's name, as hops name it.
    fn service(self) -> &'static str {
        match self {
            Self::Auth => "auth-api",
            Self::Chat => "chat-api",
        }
    }
}

/// How an operation authenticates its caller: the documents' security
/// schemes (`userToken`, `serviceToken`, `adminToken`, `clientBasic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    None,
    /// A user token (the operations a service token may call take one too).
    User,
    Admin,
    Basic,
}

/// What an operation's request body is.
#[derive(Debug, Clone)]
enum BodyKind {
    Json(Value),
    Form,
}

/// One operation of a document.
#[derive(Debug, Clone)]
struct Operation {
    api: Api,
    method: reqwest::Method,
    path: String,
    path_params: Vec<String>,
    query_params: Vec<String>,
    header_params: Vec<String>,
    body: Option<BodyKind>,
    security: Security,
}

impl Operation {
    fn slug(&self) -> String {
        let path: String = self
            .path
            .trim_matches('/')
            .chars()
            .filter(|c| !matches!(c, '{' | '}'))
            .map(|c| if c == '/' || c == '.' { '-' } else { c })
            .collect();
        format!("{}-{path}", self.method.as_str().to_lowercase())
    }

    fn check_id(&self, case: Case) -> String {
        let api = match self.api {
            Api::Auth => "auth",
            Api::Chat => "chat",
        };
        format!("strict.fuzz.{api}.{}.{}", self.slug(), case.name())
    }

    fn cases(&self) -> Vec<Case> {
        let mut cases = Vec::new();
        match &self.body {
            Some(BodyKind::Json(_)) => cases.extend([
                Case::MalformedJson,
                Case::NotAnObject,
                Case::WrongTypes,
                Case::NonUtf8Body,
                Case::OversizedBody,
                Case::WrongContentType,
                Case::GeneratedBodies,
            ]),
            Some(BodyKind::Form) => cases.extend([
                Case::MalformedForm,
                Case::NonUtf8Body,
                Case::OversizedBody,
                Case::WrongContentType,
            ]),
            None => {}
        }
        if !self.path_params.is_empty() {
            cases.push(Case::BadPathParams);
        }
        if !self.query_params.is_empty() {
            cases.push(Case::BadQuery);
        }
        if !self.header_params.is_empty() {
            cases.push(Case::BadHeaderParams);
        }
        cases.extend([Case::OversizedHeader, Case::NonUtf8Header]);
        cases
    }
}

/// A kind of bad input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    MalformedJson,
    NotAnObject,
    WrongTypes,
    NonUtf8Body,
    OversizedBody,
    WrongContentType,
    GeneratedBodies,
    MalformedForm,
    BadPathParams,
    BadQuery,
    BadHeaderParams,
    OversizedHeader,
    NonUtf8Header,
}

impl Case {
    fn name(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed-json",
            Self::NotAnObject => "not-an-object",
            Self::WrongTypes => "wrong-types",
            Self::NonUtf8Body => "non-utf8-body",
            Self::OversizedBody => "oversized-body",
            Self::WrongContentType => "wrong-content-type",
            Self::GeneratedBodies => "generated-bodies",
            Self::MalformedForm => "malformed-form",
            Self::BadPathParams => "bad-path-params",
            Self::BadQuery => "bad-query",
            Self::BadHeaderParams => "bad-header-params",
            Self::OversizedHeader => "oversized-header",
            Self::NonUtf8Header => "non-utf8-header",
        }
    }

    /// The rule a case enforces: every case checks that no 5xx comes
    /// back and that errors are the contract's body; these name what the
    /// refusal itself rests on.
    fn rule(self) -> &'static str {
        match self {
            Self::MalformedJson
            | Self::NotAnObject
            | Self::WrongTypes
            | Self::NonUtf8Body
            | Self::BadPathParams => "CONTRACT Common rules: bad input",
            Self::WrongContentType => "CONTRACT Auth-API: allowed alternatives",
            Self::MalformedForm => "RFC 6749 §5.2",
            Self::BadQuery => "CONTRACT Chat-API: listing",
            Self::GeneratedBodies
            | Self::OversizedBody
            | Self::BadHeaderParams
            | Self::OversizedHeader
            | Self::NonUtf8Header => "CONTRACT Common rules: no 500",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::MalformedJson => "truncated and broken JSON",
            Self::NotAnObject => "JSON that is not an object",
            Self::WrongTypes => "each property with a value of the wrong type",
            Self::NonUtf8Body => "a body that is not UTF-8",
            Self::OversizedBody => "a body over 1 MiB",
            Self::WrongContentType => "a body in another content type",
            Self::GeneratedBodies => "generated JSON bodies",
            Self::MalformedForm => "a form that does not parse",
            Self::BadPathParams => "path parameters that are no ids",
            Self::BadQuery => "query parameters out of range or malformed",
            Self::BadHeaderParams => "header parameters out of range",
            Self::OversizedHeader => "a 64 KiB header",
            Self::NonUtf8Header => "header values that are not UTF-8",
        }
    }
}

/// The operations of both documents.
fn operations() -> Vec<Operation> {
    let mut all = Vec::new();
    for (api, text) in [(Api::Auth, AUTH_API), (Api::Chat, CHAT_API)] {
        let doc: Value = serde_json::from_str(text).expect("the bundled OpenAPI documents parse");
        let Some(paths) = doc["paths"].as_object() else {
            continue;
        };
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, op) in item {
                let Ok(method) = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())
                else {
                    continue;
                };
                all.push(operation(&doc, api, method, path, op));
            }
        }
    }
    all
}

fn operation(doc: &Value, api: Api, method: reqwest::Method, path: &str, op: &Value) -> Operation {
    let params = |location: &str| -> Vec<String> {
        op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == location)
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect()
    };
    let content = &op["requestBody"]["content"];
    let body = if let Some(json) = content.get("application/json") {
        Some(BodyKind::Json(resolve(doc, &json["schema"])))
    } else if content.get("application/x-www-form-urlencoded").is_some() {
        Some(BodyKind::Form)
    } else {
        None
    };
    let schemes: Vec<&str> = op["security"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_object()?.keys().next().map(String::as_str))
        .collect();
    let security = if schemes.contains(&"clientBasic") {
        Security::Basic
    } else if schemes.contains(&"adminToken") {
        Security::Admin
    } else if schemes.is_empty() {
        Security::None
    } else {
        Security::User
    };
    Operation {
        api,
        method,
        path: path.to_owned(),
        path_params: params("path"),
        query_params: params("query"),
        header_params: params("header"),
        body,
        security,
    }
}

/// A schema with its `$ref` followed (one level: the documents' bodies
/// are flat objects).
fn resolve(doc: &Value, schema: &Value) -> Value {
    match schema["$ref"].as_str() {
        Some(reference) => doc
            .pointer(reference.trim_start_matches('#'))
            .cloned()
            .unwrap_or(Value::Null),
        None => schema.clone(),
    }
}

/// The fuzzing checks, with level and rule, for `conformance list`.
pub fn checks() -> Vec<(String, Level, String)> {
    operations()
        .iter()
        .flat_map(|op| {
            op.cases()
                .into_iter()
                .map(|case| (op.check_id(case), Level::Strict, case.rule().to_owned()))
        })
        .collect()
}

/// What fuzzing needs of the target and the run.
#[derive(Clone)]
pub struct Context {
    /// The harness's client (every probe on a connection of its own: a
    /// server may close one after refusing a body it did not read).
    pub client: Client,
    /// The auth-api.
    pub auth_url: String,
    /// The chat-api.
    pub chat_url: String,
    /// A user token (alice, a member of the group).
    pub user_token: Option<String>,
    /// The admin token, for the admin operations.
    pub admin_token: Option<Secret>,
    /// HTTP Basic credentials of a client, for the OAuth operations.
    pub basic: Option<String>,
    /// The harness's group.
    pub group_id: String,
    /// Generated bodies per operation, and their seed.
    pub cases: u32,
    /// The seed of the generated bodies.
    pub seed: u64,
}

/// One request of a case.
#[derive(Debug, Clone)]
struct Probe {
    api: Api,
    what: String,
    method: reqwest::Method,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<(String, Vec<u8>)>,
    /// The input is wrong beyond doubt: a 2xx is a failure too.
    must_refuse: bool,
    /// The statuses a refusal may take where the contract names them
    /// (empty: any 4xx).
    refusals: &'static [u16],
}

/// Why a probe's answer breaks the rules.
struct Failure {
    expected: String,
    actual: String,
    request: String,
    response: String,
}

/// One fuzzing check: a kind of bad input at one operation.
#[derive(Debug, Clone)]
pub struct FuzzCheck {
    op: Operation,
    case: Case,
}

impl FuzzCheck {
    /// The check it is.
    pub fn spec(&self) -> Spec {
        Spec::generated(
            &self.op.check_id(self.case),
            Level::Strict,
            self.case.rule(),
            GENERATOR,
            &format!(
                "{}, at {} {}",
                self.case.title(),
                self.op.method,
                self.op.path
            ),
        )
    }

    /// Whether it needs credentials that the run does not have: then it
    /// could only show that the target refuses a caller it cannot identify,
    /// not how it treats the bad input.
    pub fn unauthenticated(&self, context: &Context) -> Option<&'static str> {
        match self.op.security {
            Security::None => None,
            Security::Basic => context.basic.is_none().then_some("a client's credentials"),
            Security::Admin => context.admin_token.is_none().then_some("the admin token"),
            Security::User => context.user_token.is_none().then_some("a user token"),
        }
    }
}

/// The fuzzing checks whose ids `selected` takes.
pub fn selected(selected: impl Fn(&str) -> bool) -> Vec<FuzzCheck> {
    operations()
        .into_iter()
        .flat_map(|op| {
            op.cases().into_iter().map(move |case| FuzzCheck {
                op: op.clone(),
                case,
            })
        })
        .filter(|check| selected(&check.op.check_id(check.case)))
        .collect()
}

/// Runs one fuzzing check: its probes in turn, stopping at the first
/// answer that breaks the rules.
pub async fn check(context: &Context, check: &FuzzCheck) -> Verdict {
    let (op, case) = (&check.op, check.case);
    if let Some(missing) = check.unauthenticated(context) {
        return Verdict::skipped(format!(
            "needs {missing}: without it every probe is refused before its input is read"
        ));
    }
    let started = Instant::now();
    let probes = probes(context, op, case);
    let count = probes.len();
    let mut failure = None;
    for probe in probes {
        if let Err(f) = send(context, &probe, case).await {
            failure = Some(f);
            break;
        }
    }
    let mut verdict = match failure {
        None => Verdict::passed(format!(
            "{count} request(s), each refused in the contract's error body"
        )),
        Some(failure) => {
            let message = format!(
                "expected {}, got {}",
                failure.expected,
                first_line(&failure.actual)
            );
            let mut verdict = Verdict::failed(message, failure.expected, failure.actual);
            verdict.request = Some(failure.request);
            verdict.response = Some(failure.response);
            if case == Case::GeneratedBodies {
                verdict.reproduce = Some(format!(
                    "conformance run --only {} --seed {:#x} --cases {}",
                    op.check_id(case),
                    context.seed,
                    context.cases
                ));
            }
            verdict
        }
    };
    verdict.duration_ms = client::millis(started.elapsed());
    verdict
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// The requests of one case.
fn probes(context: &Context, op: &Operation, case: Case) -> Vec<Probe> {
    let base = Probe {
        api: op.api,
        what: String::new(),
        method: op.method.clone(),
        url: url(context, op, &[]),
        headers: credentials(context, op),
        body: None,
        must_refuse: true,
        refusals: &[],
    };
    let json = |what: &str, bytes: Vec<u8>| Probe {
        what: what.to_owned(),
        body: Some(("application/json".to_owned(), bytes)),
        ..base.clone()
    };
    let form = |what: &str, bytes: Vec<u8>| Probe {
        what: what.to_owned(),
        body: Some(("application/x-www-form-urlencoded".to_owned(), bytes)),
        ..base.clone()
    };
    let valid = match &op.body {
        Some(BodyKind::Json(schema)) => minimal_body(schema),
        _ => json!({}),
    };
    match case {
        Case::MalformedJson => [
            "{",
            "{\"content\": ",
            "{\"a\": 1,}",
            "{'single': 'quotes'}",
            "{\"a\": NaN}",
            "\"unterminated",
            "{\"a\": 1} trailing",
            "",
        ]
        .iter()
        .map(|text| json(&format!("body {text:?}"), text.as_bytes().to_vec()))
        .collect(),
        Case::NotAnObject => ["[]", "null", "\"text\"", "42", "true", "[{}]"]
            .iter()
            .map(|text| json(&format!("body {text}"), text.as_bytes().to_vec()))
            .collect(),
        Case::WrongTypes => wrong_types(op, &valid)
            .into_iter()
            .map(|(what, body)| json(&what, body.to_string().into_bytes()))
            .collect(),
        Case::NonUtf8Body => {
            let mut bytes = b"{\"content\": \"".to_vec();
            bytes.extend([0xff, 0xfe, 0xc3, 0x28]);
            bytes.extend(b"\"}");
            match op.body {
                Some(BodyKind::Form) => vec![
                    form(
                        "raw bytes 0xff 0xfe in the form",
                        b"grant_type=client_\xff\xfe".to_vec(),
                    ),
                    form(
                        "a percent-encoded byte that is no UTF-8",
                        b"grant_type=client_credentials&scope=%FF%FE".to_vec(),
                    ),
                ],
                _ => vec![json("a string with bytes 0xff 0xfe", bytes)],
            }
        }
        Case::OversizedBody => {
            let mut text = String::from("{\"content\": \"");
            text.push_str(&"x".repeat(OVERSIZED_BODY));
            text.push_str("\"}");
            match op.body {
                // A valid request with an unknown parameter, which RFC 6749
                // §3.1 says to ignore: served or refused as too large.
                Some(BodyKind::Form) => vec![Probe {
                    must_refuse: false,
                    ..form(
                        "a 1 MiB form",
                        format!(
                            "grant_type=client_credentials&pad={}",
                            "x".repeat(OVERSIZED_BODY)
                        )
                        .into_bytes(),
                    )
                }],
                _ => vec![json("a 1 MiB JSON body", text.into_bytes())],
            }
        }
        Case::WrongContentType => {
            let (content_type, bytes) = match op.body {
                Some(BodyKind::Form) => (
                    "application/json",
                    b"{\"grant_type\": \"client_credentials\"}".to_vec(),
                ),
                _ => ("text/plain", valid.to_string().into_bytes()),
            };
            vec![
                // The contract's allowed alternatives: 415 or 400.
                Probe {
                    what: format!("a valid body sent as {content_type}"),
                    body: Some((content_type.to_owned(), bytes.clone())),
                    refusals: &[400, 415],
                    ..base.clone()
                },
                // The contract allows processing a body that declares no
                // type (or refusing it with 415): only no 5xx and, when
                // refused, the contract's body.
                Probe {
                    what: "a body without a content type".to_owned(),
                    body: Some((String::new(), bytes)),
                    must_refuse: false,
                    ..base.clone()
                },
            ]
        }
        Case::GeneratedBodies => generated_bodies(context, op)
            .into_iter()
            .map(|body| Probe {
                must_refuse: false,
                ..json(
                    &format!("generated body {body}"),
                    body.to_string().into_bytes(),
                )
            })
            .collect(),
        Case::MalformedForm => [
            "%zz=%",
            "=&&=",
            "grant_type",
            "grant_type=client_credentials&scope=%",
        ]
        .iter()
        .map(|text| form(&format!("form {text:?}"), text.as_bytes().to_vec()))
        .collect(),
        Case::BadPathParams => {
            let long = "a".repeat(2000);
            let mut all = Vec::new();
            for param in &op.path_params {
                for (what, bad) in [
                    ("not a UUID", "not-a-uuid"),
                    ("a percent-encoded byte that is no UTF-8", "%FF%FE"),
                    ("2000 characters", long.as_str()),
                    (
                        "a UUID with a trailing dot",
                        "0193a1c0-0000-7000-8000-00000000000a.",
                    ),
                ] {
                    all.push(Probe {
                        what: format!("{{{param}}} = {what}"),
                        url: url(context, op, &[(param.as_str(), bad)]),
                        ..base.clone()
                    });
                }
            }
            all
        }
        Case::BadQuery => {
            let mut all = Vec::new();
            for param in &op.query_params {
                for bad in [
                    "abc",
                    "-1",
                    "0",
                    "101",
                    "99999999999999999999999",
                    "%FF",
                    "!!!",
                    "1e3",
                ] {
                    // `before` is a cursor whose form the contract leaves
                    // open: a server may refuse a malformed one or ignore
                    // it, but never fail.
                    let cursor = param == "before";
                    if cursor && !matches!(bad, "abc" | "%FF" | "!!!" | "-1") {
                        continue;
                    }
                    all.push(Probe {
                        what: format!("?{param}={bad}"),
                        url: format!("{}?{param}={bad}", base.url),
                        must_refuse: !cursor,
                        ..base.clone()
                    });
                }
            }
            all
        }
        Case::BadHeaderParams => {
            let mut all = Vec::new();
            for param in &op.header_params {
                for (what, bad) in [
                    ("empty", Vec::new()),
                    ("256 characters", vec![b'k'; 256]),
                    ("not ASCII", "schlüssel".as_bytes().to_vec()),
                    ("with a space inside", b"two words".to_vec()),
                ] {
                    let mut headers = base.headers.clone();
                    headers.push((param.clone(), bad));
                    // The contract says nothing of the key's form: these
                    // may be taken or refused, never a 5xx.
                    all.push(Probe {
                        what: format!("{param}: {what}, with a valid body"),
                        must_refuse: false,
                        headers,
                        body: Some((
                            "application/json".to_owned(),
                            valid.to_string().into_bytes(),
                        )),
                        ..base.clone()
                    });
                }
            }
            all
        }
        Case::OversizedHeader => {
            let mut headers = base.headers.clone();
            headers.push((
                "x-conformance-fuzz".to_owned(),
                vec![b'a'; OVERSIZED_HEADER],
            ));
            vec![Probe {
                what: "a 64 KiB header".to_owned(),
                headers,
                must_refuse: false,
                ..base.clone()
            }]
        }
        Case::NonUtf8Header => {
            let mut with_extra = base.headers.clone();
            with_extra.push(("x-conformance-fuzz".to_owned(), vec![0xff, 0xfe]));
            let mut probes = vec![Probe {
                what: "an extra header with bytes 0xff 0xfe".to_owned(),
                headers: with_extra,
                must_refuse: false,
                ..base.clone()
            }];
            if op.security != Security::None {
                probes.push(Probe {
                    what: "Authorization: Bearer with bytes 0xff 0xfe".to_owned(),
                    headers: vec![(
                        "authorization".to_owned(),
                        [b"Bearer ".as_slice(), &[0xff, 0xfe]].concat(),
                    )],
                    must_refuse: true,
                    ..base.clone()
                });
            }
            probes
        }
    }
}

/// The operation's URL with its path parameters filled in: the harness's
/// group for group ids, a UUID nobody has for anything else (so that no
/// probe can touch a real member or message), `bad` where given.
fn url(context: &Context, op: &Operation, bad: &[(&str, &str)]) -> String {
    let base = match op.api {
        Api::Auth => &context.auth_url,
        Api::Chat => &context.chat_url,
    };
    let mut path = op.path.clone();
    for param in &op.path_params {
        let group_param =
            param == "group_id" || (param == "id" && op.path.starts_with("/api/auth/groups"));
        let value = match bad.iter().find(|(name, _)| name == param) {
            Some((_, bad)) => (*bad).to_owned(),
            None if group_param => context.group_id.clone(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        path = path.replace(&format!("{{{param}}}"), &value);
    }
    format!("{base}{path}")
}

/// Whether the probe carries one of the harness's valid bearer tokens (a
/// user's or the admin token) unchanged. HTTP Basic is left out: a server
/// may read a client from a body the probe broke.
fn carries_valid_bearer(context: &Context, probe: &Probe) -> bool {
    let valid: Vec<String> = [
        context.user_token.as_ref().map(|t| format!("Bearer {t}")),
        context
            .admin_token
            .as_ref()
            .map(|t| format!("Bearer {}", t.expose())),
    ]
    .into_iter()
    .flatten()
    .collect();
    probe
        .headers
        .iter()
        .any(|(n, v)| n == "authorization" && valid.iter().any(|t| t.as_bytes() == v.as_slice()))
}

/// The caller's credentials: a user for bearer operations (the admin token
/// for `/admin`), a client by HTTP Basic for the OAuth endpoints.
fn credentials(context: &Context, op: &Operation) -> Vec<(String, Vec<u8>)> {
    let value = match op.security {
        Security::None => None,
        Security::Basic => context.basic.clone(),
        Security::Admin => context
            .admin_token
            .as_ref()
            .map(|t| format!("Bearer {}", t.expose())),
        Security::User => context.user_token.as_ref().map(|t| format!("Bearer {t}")),
    };
    value
        .map(|v| vec![("authorization".to_owned(), v.into_bytes())])
        .unwrap_or_default()
}

/// A body that meets the schema's required properties, as a base to break
/// one property at a time. It is never sent as it is.
fn minimal_body(schema: &Value) -> Value {
    let mut body = serde_json::Map::new();
    for name in schema["required"].as_array().into_iter().flatten() {
        let Some(name) = name.as_str() else { continue };
        let property = &schema["properties"][name];
        body.insert(name.to_owned(), example(property));
    }
    Value::Object(body)
}

fn example(property: &Value) -> Value {
    match (main_type(property), property["format"].as_str()) {
        (Some("string"), Some("uuid")) => json!(uuid::Uuid::new_v4().to_string()),
        (Some("string"), _) => json!("conformance fuzz"),
        (Some("integer" | "number"), _) => json!(1),
        (Some("boolean"), _) => json!(true),
        (Some("array"), _) => json!([]),
        _ => json!({}),
    }
}

/// The valid base with one property replaced by each value of a wrong type.
fn wrong_types(op: &Operation, valid: &Value) -> Vec<(String, Value)> {
    let Some(BodyKind::Json(schema)) = &op.body else {
        return Vec::new();
    };
    let mut all = Vec::new();
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        let wrong: Vec<Value> = match main_type(property) {
            Some("string") => vec![json!(123), json!(true), json!(["x"]), json!({ "x": 1 })],
            Some("integer" | "number") => vec![json!("1"), json!([1]), json!(true)],
            Some("array") => vec![json!("x"), json!({ "x": 1 }), json!(1), json!([1, [2]])],
            Some("boolean") => vec![json!("true"), json!(1)],
            _ => vec![json!("x")],
        };
        for value in wrong {
            let mut body = valid.clone();
            body[name.as_str()] = value.clone();
            all.push((format!("{name} = {value}"), body));
        }
    }
    all
}

/// A property's type: `type`, or the first of a list other than `null`
/// (`["string", "null"]` is a string that may be null; none of the wrong
/// values below is null).
fn main_type(property: &Value) -> Option<&str> {
    match &property["type"] {
        Value::String(t) => Some(t),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ => None,
    }
}

/// Bodies generated from the seed: objects with the schema's property
/// names and any JSON values, and any JSON at all.
fn generated_bodies(context: &Context, op: &Operation) -> Vec<Value> {
    let Some(BodyKind::Json(schema)) = &op.body else {
        return Vec::new();
    };
    let names: Vec<String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,40}".prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
    ];
    let value = leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    let keyed = proptest::collection::vec(
        (proptest::sample::select(names.clone()), value.clone()),
        0..4,
    )
    .prop_map(|pairs| Value::Object(pairs.into_iter().collect()));
    let strategy = if names.is_empty() {
        value.boxed()
    } else {
        prop_oneof![3 => keyed, 1 => value].boxed()
    };
    let mut seed = [0_u8; 32];
    seed[..8].copy_from_slice(&context.seed.to_le_bytes());
    // A different stream per operation, the same for the same seed.
    let salt = op
        .slug()
        .bytes()
        .fold(0_u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    seed[8..16].copy_from_slice(&salt.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: context.cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    (0..context.cases)
        .filter_map(|_| {
            strategy
                .new_tree(&mut runner)
                .ok()
                .map(|tree| tree.current())
        })
        .collect()
}

/// Whether a request's error says the server closed the connection (as
/// opposed to a timeout, a refused connection or a TLS failure).
fn connection_closed(error: &str) -> bool {
    let error = error.to_ascii_lowercase();
    [
        "broken pipe",
        "connection reset",
        "connection closed",
        "os error 32",
        "os error 104",
    ]
    .iter()
    .any(|sign| error.contains(sign))
}

/// After a connection closed on an oversized body: the service's own
/// health endpoint, on a fresh connection, answers (any status below 500).
async fn still_answers(context: &Context, probe: &Probe) -> bool {
    let base = match probe.api {
        Api::Auth => &context.auth_url,
        Api::Chat => &context.chat_url,
    };
    let outgoing = Outgoing {
        service: probe.api.service(),
        method: reqwest::Method::GET,
        url: format!("{base}/health"),
        headers: Vec::new(),
        body: None,
        fresh_connection: true,
    };
    matches!(context.client.send(&outgoing).await, Ok((answer, _)) if answer.status < 500)
}

/// Sends a probe and holds its answer to the rules.
async fn send(context: &Context, probe: &Probe, case: Case) -> Result<(), Failure> {
    let request_line = format!("{} {} ({})", probe.method, probe.url, probe.what);
    let outgoing = Outgoing {
        service: probe.api.service(),
        method: probe.method.clone(),
        url: probe.url.clone(),
        headers: probe.headers.clone(),
        body: probe.body.clone(),
        fresh_connection: true,
    };
    let answer = match context.client.send(&outgoing).await {
        Ok((answer, _)) => answer,
        // RFC 9110 §15.5.14: a server refusing content too large MAY close
        // the connection; the client then sees its send fail, not a 413.
        // That passes when the service still answers afterwards (a crash
        // would not).
        // The same for a header too large (RFC 6585 §5 lets the server
        // refuse it; closing is how many HTTP parsers do it).
        Err(e)
            if matches!(case, Case::OversizedBody | Case::OversizedHeader)
                && connection_closed(&e)
                && still_answers(context, probe).await =>
        {
            return Ok(());
        }
        Err(e) => {
            return Err(Failure {
                expected: "an answer".to_owned(),
                actual: format!("no answer: {e}"),
                request: request_line,
                response: String::new(),
            });
        }
    };
    // An answer to an oversized request whose body the closing connection
    // cut short (the server answered and closed with the request unread,
    // and the reset took the rest): its status stands, its body is not the
    // server's to answer for.
    if answer.cut.is_some()
        && matches!(case, Case::OversizedBody | Case::OversizedHeader)
        && answer.status < 500
        && still_answers(context, probe).await
    {
        return Ok(());
    }
    let status = answer.status;
    let content_type = answer.header("content-type").unwrap_or("").to_owned();
    // A probe the target took may have made a client: its secret stays out
    // of the report.
    let secrets = context.client.secrets();
    secrets.add_handed_out(answer.json.as_ref());
    let shown = secrets.redact(&answer.shown(400));
    let fail = |expected: &str| Failure {
        expected: expected.to_owned(),
        actual: shown.clone(),
        request: request_line.clone(),
        response: shown.clone(),
    };
    if status >= 500 {
        return Err(fail("no 5xx: a client's input never makes the server fail"));
    }
    // A 401 says the credentials were wrong; they were the harness's valid
    // ones, so the input was refused as the wrong thing.
    if status == 401 && carries_valid_bearer(context, probe) {
        return Err(fail(
            "a refusal of the input (400 and its kin), not 401: the probe carried a valid token",
        ));
    }
    if status < 400 {
        return if probe.must_refuse {
            Err(fail("a 4xx refusal"))
        } else {
            Ok(())
        };
    }
    if !probe.refusals.is_empty() && !probe.refusals.contains(&status) {
        let allowed: Vec<String> = probe.refusals.iter().map(u16::to_string).collect();
        return Err(fail(&format!("a refusal with {}", allowed.join(" or "))));
    }
    let well_formed = content_type.starts_with("application/json")
        && answer
            .json
            .as_ref()
            .is_some_and(|b| b["error"].is_string() && b["error_description"].is_string());
    if well_formed {
        Ok(())
    } else {
        Err(fail(
            "the contract's error body {\"error\": …, \"error_description\": …} as application/json",
        ))
    }
}
