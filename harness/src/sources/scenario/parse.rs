//! One scenario file's text into a `Scenario`: its steps, their requests
//! and checks, every `{{name}}` used known before it is used.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::expectation::expect;
use super::model::{
    Auth, Body, Check, JsonOp, Level, May, Observe, Request, Scenario, Service, Step, Walk, Window,
};
use super::raw::{RawAuth, RawRequest, RawScenario, RawStep, to_json};
use super::template::names;

/// A scenario file that cannot be used, with where and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ScenarioError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The names every scenario may use without capturing them.
pub const BUILTIN_VARS: &[&str] = &[
    "run",
    "alice.id",
    "alice.email",
    "alice.email.upper",
    "alice.password",
    "bob.id",
    "bob.email",
    "bob.email.upper",
    "bob.password",
    "group.id",
    "group.org_id",
    "reader.id",
    "blind.id",
    "uuid_client.id",
    "unknown.uuid",
    "fault.unavailable.group",
    "fault.server-error.group",
    "fault.not-json.group",
    "fault.hang.group",
    "fault.unauthorized.group",
    "fault.dropped.group",
    "admin.token",
    "text.4000",
    "text.4001",
    "text.4000-wide",
];

/// In expectations, `{{answer/<field>}}` is that top-level field of the
/// answer being checked (`{{answer/id}}`: the id it just made).
pub const ANSWER_PREFIX: &str = "answer/";

/// Whether a name is built in: a fixed one, or an attack token.
fn is_builtin(name: &str) -> bool {
    BUILTIN_VARS.contains(&name)
        || name.starts_with(ANSWER_PREFIX)
        || name.strip_prefix("attack.").is_some_and(|a| {
            crate::sources::attacks::ATTACKS.contains(&a)
                || crate::sources::attacks::SIGNED_ATTACKS.contains(&a)
        })
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses one scenario file's text.
pub fn parse(file: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let error = |line: usize, message: String| ScenarioError {
        file: file.to_owned(),
        line,
        message,
    };
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |span| line_of(text, span.start));
        error(line, e.message().to_owned())
    })?;
    let level = Level::parse(&raw.level).ok_or_else(|| {
        error(
            1,
            format!("level is core, strict or reference, not {:?}", raw.level),
        )
    })?;
    if raw.step.is_empty() {
        return Err(error(
            1,
            "a scenario needs at least one [[step]]".to_owned(),
        ));
    }
    let mut known: BTreeSet<String> = BTreeSet::new();
    let mut steps = Vec::new();
    for spanned in raw.step {
        let line = line_of(text, spanned.span().start);
        let step = step(spanned.into_inner(), line, level, raw.rule.as_deref())
            .map_err(|message| error(line, message))?;
        for name in step_names(&step) {
            if !is_builtin(&name) && !known.contains(&name) {
                return Err(error(
                    line,
                    format!("{{{{{name}}}}} is neither built in nor captured by an earlier step"),
                ));
            }
        }
        known.extend(step.capture.keys().cloned());
        steps.push(step);
    }
    Ok(Scenario {
        file: file.to_owned(),
        id: raw.id,
        title: raw.title,
        needs: raw.needs,
        tags: raw.tags,
        steps,
    })
}

fn step(
    raw: RawStep,
    line: usize,
    scenario_level: Level,
    scenario_rule: Option<&str>,
) -> Result<Step, String> {
    let check = match raw.check {
        Some(id) => {
            let level = match raw.level {
                Some(l) => Level::parse(&l)
                    .ok_or_else(|| format!("level is core, strict or reference, not {l:?}"))?,
                None => scenario_level,
            };
            if !id.starts_with(&format!("{level}.")) {
                return Err(format!(
                    "check {id} is at the {level} level: its id starts with \"{level}.\""
                ));
            }
            let rule = raw
                .rule
                .or_else(|| scenario_rule.map(str::to_owned))
                .ok_or_else(|| {
                    format!("check {id} names no rule: give the step or the scenario a `rule`")
                })?;
            crate::checking::rules::validate(&rule, level)?;
            Some(Check { id, level, rule })
        }
        None if raw.rule.is_some() || raw.level.is_some() => {
            return Err("`rule` and `level` go with a `check`".to_owned());
        }
        None => None,
    };
    let expect = expect(raw.expect)?;
    if let Some(check) = &check
        && expect.is_empty()
        && raw.observe.is_none()
    {
        return Err(format!(
            "check {} expects nothing: an empty `expect` passes on any answer, a 500 included",
            check.id
        ));
    }
    Ok(Step {
        line,
        name: raw.name,
        check,
        auth: auth(raw.auth)?,
        request: request(raw.request)?,
        expect,
        capture: raw.capture,
        may: raw.may.map(|m| May {
            declined: m.declined,
            reason: m.reason,
        }),
        observe: raw
            .observe
            .map(|o| -> Result<Observe, String> {
                Ok(Observe {
                    method: o.method,
                    path: o.path,
                    at_most: o.at_most,
                    at_least: o.at_least,
                    credential: o.credential,
                    scope: o.scope,
                    over: match o.over.as_deref() {
                        None | Some("scenario") => Window::Scenario,
                        Some("step") => Window::Step,
                        Some("run") => Window::Run,
                        Some(other) => {
                            return Err(format!(
                                "observe.over is scenario, step or run, not {other:?}"
                            ));
                        }
                    },
                })
            })
            .transpose()?,
    })
}

fn auth(raw: Option<RawAuth>) -> Result<Auth, String> {
    let Some(raw) = raw else {
        return Ok(Auth::Anonymous);
    };
    let chosen = [&raw.user, &raw.service, &raw.basic, &raw.form, &raw.bearer]
        .iter()
        .filter(|v| v.is_some())
        .count();
    if chosen != 1 {
        return Err("auth names exactly one of user, service, basic, form, bearer".to_owned());
    }
    if raw.scope.is_some() && raw.service.is_none() {
        return Err("auth.scope goes with auth.service".to_owned());
    }
    if raw.secret.is_some() && raw.basic.is_none() {
        return Err("auth.secret goes with auth.basic".to_owned());
    }
    Ok(match raw {
        RawAuth {
            basic: Some(id),
            secret: Some(secret),
            ..
        } => Auth::BasicWith { id, secret },
        RawAuth { user: Some(u), .. } => Auth::User(u),
        RawAuth {
            service: Some(client),
            scope,
            ..
        } => Auth::Service { client, scope },
        RawAuth { basic: Some(c), .. } => Auth::Basic(c),
        RawAuth { form: Some(c), .. } => Auth::Form(c),
        RawAuth {
            bearer: Some(t), ..
        } => Auth::Bearer(t),
        _ => unreachable!("exactly one is set"),
    })
}

fn request(raw: RawRequest) -> Result<Request, String> {
    let service = match raw.service.as_str() {
        "auth" => Service::Auth,
        "chat" => Service::Chat,
        "recorder" => Service::Recorder,
        other => {
            return Err(format!(
                "request.service is auth, chat or recorder, not {other:?}"
            ));
        }
    };
    let bodies = [raw.json.is_some(), raw.form.is_some(), raw.body.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if bodies > 1 {
        return Err("a request has one of json, form, body".to_owned());
    }
    let body = match (raw.json, raw.form, raw.body) {
        (Some(json), _, _) => Body::Json(to_json(json)),
        (_, Some(form), _) => Body::Form(
            form.into_iter()
                .map(|(k, v)| match v {
                    toml::Value::String(s) => Ok((k, s)),
                    other => Err(format!(
                        "form values are strings; {k} is {}",
                        other.type_str()
                    )),
                })
                .collect::<Result<_, _>>()?,
        ),
        (_, _, Some(text)) => Body::Raw {
            content_type: raw.content_type,
            text,
        },
        _ => Body::Empty,
    };
    let repeat = raw.repeat.unwrap_or(1).max(1);
    if raw.walk.is_some() && repeat > 1 {
        return Err("a request walks its pages or repeats, not both".to_owned());
    }
    let query = raw
        .query
        .into_iter()
        .map(|(k, v)| match v {
            toml::Value::String(s) => Ok((k, s)),
            other => Err(format!(
                "query values are strings; {k} is {}",
                other.type_str()
            )),
        })
        .collect::<Result<_, _>>()?;
    Ok(Request {
        service,
        method: raw.method.to_uppercase(),
        path: raw.path,
        query,
        headers: raw.headers,
        body,
        repeat,
        walk: raw.walk.map(|w| Walk {
            items: w.items,
            cursor: w.cursor,
            param: w.param,
        }),
    })
}

/// Every template name a step uses.
fn step_names(step: &Step) -> Vec<String> {
    let mut texts: Vec<String> = vec![step.request.path.clone()];
    texts.extend(step.request.headers.values().cloned());
    match &step.request.body {
        Body::Json(v) => texts.push(v.to_string()),
        Body::Form(pairs) => texts.extend(pairs.iter().map(|(_, v)| v.clone())),
        Body::Raw { text, .. } => texts.push(text.clone()),
        Body::Empty => {}
    }
    match &step.auth {
        Auth::Bearer(t) => texts.push(t.clone()),
        Auth::BasicWith { id, secret } => texts.extend([id.clone(), secret.clone()]),
        _ => {}
    }
    let asserts = step
        .expect
        .json
        .iter()
        .chain(step.expect.jwt.iter().flat_map(|j| j.checks.iter()));
    for a in asserts {
        texts.push(a.path.clone());
        match &a.op {
            JsonOp::Equals(v) | JsonOp::NotEquals(v) => texts.push(v.to_string()),
            JsonOp::Item(m) => texts.push(serde_json::Value::Object(m.clone()).to_string()),
            JsonOp::Contains(t) | JsonOp::EqualsIgnoringCase(t) => texts.push(t.clone()),
            _ => {}
        }
    }
    texts.extend(step.expect.headers.values().cloned());
    texts.extend(step.expect.header_contains.values().cloned());
    texts.extend(step.expect.header_lacks.values().cloned());
    texts.extend(step.observe.iter().map(|o| o.path.clone()));
    texts.iter().flat_map(|t| names(t)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "core.example"
title = "An example"
level = "core"
rule = "CONTRACT Auth-API: read members"
tags = ["members"]

[[step]]
name = "a service token"
auth = { basic = "reader" }
request = { service = "auth", method = "post", path = "/oauth/token", form = { grant_type = "client_credentials" } }
expect = { status = 200 }
capture = { token = "/access_token" }

[[step]]
name = "the members endpoint answers it"
check = "core.example.members"
auth = { bearer = "{{token}}" }
request = { service = "auth", method = "GET", path = "/api/auth/groups/{{group.id}}/members" }
expect.status = 200
expect.json = [{ path = "/members", item = { user_id = "{{alice.id}}" } }]
"#;

    #[test]
    fn parses_steps_checks_and_captures() {
        let scenario = parse(Path::new("example.toml"), GOOD).unwrap();
        assert_eq!(scenario.steps.len(), 2);
        assert_eq!(scenario.steps[0].line, 8);
        assert_eq!(scenario.steps[0].request.method, "POST");
        assert!(scenario.steps[0].check.is_none());
        let check = scenario.steps[1].check.as_ref().unwrap();
        assert_eq!(check.id, "core.example.members");
        assert_eq!(check.level, Level::Core);
        assert_eq!(check.rule, "CONTRACT Auth-API: read members");
        assert_eq!(scenario.steps[1].auth, Auth::Bearer("{{token}}".to_owned()));
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let typo = GOOD.replace("expect.status = 200", "expect.stauts = 200");
        let error = parse(Path::new("typo.toml"), &typo).unwrap_err();
        assert_eq!(error.file, Path::new("typo.toml"));
        assert_eq!(error.line, 20, "{error}");
        assert!(error.to_string().starts_with("typo.toml:20:"), "{error}");

        let unknown = GOOD.replace("{{token}}", "{{tokn}}");
        let error = parse(Path::new("u.toml"), &unknown).unwrap_err();
        assert_eq!(error.line, 15);
        assert!(error.message.contains("tokn"), "{error}");

        let broken = GOOD.replace("level = \"core\"", "level = \"gold\"");
        assert!(
            parse(Path::new("l.toml"), &broken)
                .unwrap_err()
                .message
                .contains("gold")
        );
        let syntax = GOOD.replace("title = \"An example\"", "title = ");
        assert_eq!(parse(Path::new("s.toml"), &syntax).unwrap_err().line, 3);
    }

    #[test]
    fn a_check_that_expects_nothing_is_refused() {
        let empty = GOOD.replace(
            "expect.status = 200\nexpect.json = [{ path = \"/members\", item = { user_id = \"{{alice.id}}\" } }]",
            "",
        );
        let error = parse(Path::new("e.toml"), &empty).unwrap_err();
        assert!(error.message.contains("expects nothing"), "{error}");
    }

    #[test]
    fn every_check_names_a_rule_it_may_name() {
        let no_rule = GOOD.replace("rule = \"CONTRACT Auth-API: read members\"\n", "");
        let error = parse(Path::new("r.toml"), &no_rule).unwrap_err();
        assert!(error.message.contains("names no rule"), "{error}");
        let taste = GOOD.replace(
            "CONTRACT Auth-API: read members",
            "decisions: members are sorted",
        );
        let error = parse(Path::new("r.toml"), &taste).unwrap_err();
        assert!(error.message.contains("reference level only"), "{error}");
        let misfiled = GOOD.replace(
            "check = \"core.example.members\"",
            "check = \"strict.example.members\"",
        );
        assert!(parse(Path::new("r.toml"), &misfiled).is_err());
    }
}
