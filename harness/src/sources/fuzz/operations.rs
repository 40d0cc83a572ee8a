//! The operations of the contract's OpenAPI documents (the reference's,
//! bundled with the harness): their paths, parameters, bodies and how they
//! authenticate, and the URL and credentials a probe of one carries.

use serde_json::Value;

use super::Context;
use super::cases::Case;

/// The contract's OpenAPI documents.
const AUTH_API: &str = include_str!("../../../../reference/auth-api/openapi.json");
const CHAT_API: &str = include_str!("../../../../reference/chat-api/openapi.json");

/// Which service an operation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Api {
    Auth,
    Chat,
}

impl Api {
    /// The service's name, as hops name it.
    pub(super) fn service(self) -> &'static str {
        match self {
            Self::Auth => "auth-api",
            Self::Chat => "chat-api",
        }
    }
}

/// How an operation authenticates its caller: the documents' security
/// schemes (`userToken`, `serviceToken`, `adminToken`, `clientBasic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Security {
    None,
    /// A user token (the operations a service token may call take one too).
    User,
    Admin,
    Basic,
}

/// What an operation's request body is.
#[derive(Debug, Clone)]
pub(super) enum BodyKind {
    Json(Value),
    Form,
}

/// One operation of a document.
#[derive(Debug, Clone)]
pub(super) struct Operation {
    pub(super) api: Api,
    pub(super) method: reqwest::Method,
    pub(super) path: String,
    pub(super) path_params: Vec<String>,
    pub(super) query_params: Vec<String>,
    pub(super) header_params: Vec<String>,
    pub(super) body: Option<BodyKind>,
    pub(super) security: Security,
}

impl Operation {
    pub(super) fn slug(&self) -> String {
        let path: String = self
            .path
            .trim_matches('/')
            .chars()
            .filter(|c| !matches!(c, '{' | '}'))
            .map(|c| if c == '/' || c == '.' { '-' } else { c })
            .collect();
        format!("{}-{path}", self.method.as_str().to_lowercase())
    }

    pub(super) fn check_id(&self, case: Case) -> String {
        let api = match self.api {
            Api::Auth => "auth",
            Api::Chat => "chat",
        };
        format!("strict.fuzz.{api}.{}.{}", self.slug(), case.name())
    }

    pub(super) fn cases(&self) -> Vec<Case> {
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

/// The operations of both documents.
pub(super) fn operations() -> Vec<Operation> {
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

/// The operation's URL with its path parameters filled in: the harness's
/// group for group ids, a UUID nobody has for anything else (so that no
/// probe can touch a real member or message), `bad` where given.
pub(super) fn url(context: &Context, op: &Operation, bad: &[(&str, &str)]) -> String {
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

/// The caller's credentials: a user for bearer operations (the admin token
/// for `/admin`), a client by HTTP Basic for the OAuth endpoints.
pub(super) fn credentials(context: &Context, op: &Operation) -> Vec<(String, Vec<u8>)> {
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
