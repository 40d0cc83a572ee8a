//! The causes of a failed run: failures grouped by the call where their
//! chain broke (the same call answered the same way: `auth-api GET
//! /api/auth/groups/{id}/members with a service token → 401
//! invalid_token`), the others by check family. One cause often explains
//! dozens of failures; the reports open with the causes so that the reader
//! meets the one bug before its echoes.

use std::collections::BTreeMap;

use crate::checking::outcome::CheckOutcome;
use crate::run::hop::Hop;
use crate::sources::scenario::Level;

/// Failures that share a cause.
#[derive(Debug)]
pub struct Cause<'a> {
    /// The broken call (`auth-api GET /api/auth/groups/{id}/members with
    /// a service token → 401 invalid_token`), or the checks' family
    /// (`core.members`) when no call failed.
    pub what: String,
    /// Whether `what` is a broken call (else a family).
    pub broken_call: bool,
    /// The failures it explains, most severe level first.
    pub checks: Vec<&'a CheckOutcome>,
}

impl Cause<'_> {
    /// The most severe level among its failures.
    pub fn level(&self) -> Level {
        self.checks
            .iter()
            .map(|c| c.level)
            .min()
            .unwrap_or(Level::Reference)
    }

    /// The failure that shows it best: the most severe one with a diagram,
    /// else the most severe one.
    pub fn example(&self) -> &CheckOutcome {
        let level = self.level();
        self.checks
            .iter()
            .find(|c| c.level == level && c.diagram.is_some())
            .or_else(|| self.checks.first())
            .copied()
            .expect("a cause has failures")
    }

    /// The failure that names the cause's rule: the most severe one that
    /// made the broken call itself (the harness asking the auth-api what
    /// the chat-api asked), else [`Self::example`].
    pub fn named_by(&self) -> &CheckOutcome {
        let level = self.level();
        self.checks
            .iter()
            .find(|c| c.level == level && c.hops.len() == 1 && c.hops[0].failed())
            .copied()
            .unwrap_or_else(|| self.example())
    }

    /// Its failures' count at each level, most severe first ("core 12,
    /// strict 30").
    pub fn by_level(&self) -> String {
        let mut counts: BTreeMap<Level, usize> = BTreeMap::new();
        for check in &self.checks {
            *counts.entry(check.level).or_default() += 1;
        }
        counts
            .iter()
            .map(|(level, n)| format!("{level} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The causes of these failures: most severe level first (core before
/// strict before reference), then the most failures explained.
pub fn causes<'a>(failures: impl IntoIterator<Item = &'a CheckOutcome>) -> Vec<Cause<'a>> {
    let mut groups: Vec<Cause<'a>> = Vec::new();
    for check in failures {
        let (what, broken_call) = match broken_call(&check.hops) {
            Some(call) => (call, true),
            None => (family(&check.id), false),
        };
        match groups.iter_mut().find(|g| g.what == what) {
            Some(group) => group.checks.push(check),
            None => groups.push(Cause {
                what,
                broken_call,
                checks: vec![check],
            }),
        }
    }
    for group in &mut groups {
        group.checks.sort_by_key(|c| c.level);
    }
    groups.sort_by(|a, b| {
        (a.level(), std::cmp::Reverse(a.checks.len()), !a.broken_call).cmp(&(
            b.level(),
            std::cmp::Reverse(b.checks.len()),
            !b.broken_call,
        ))
    });
    groups
}

/// The call where a step's chain broke, with its ids generalised: the
/// first failing call between the services, else the harness's own
/// request when it was refused (4xx, 5xx). `None` when no call failed (an
/// answer that was a success, but not the one due).
pub fn broken_call(hops: &[Hop]) -> Option<String> {
    let hop = hops
        .iter()
        .find(|h| h.from != "harness" && h.failed())
        .or_else(|| {
            hops.iter()
                .rev()
                .find(|h| h.from == "harness")
                .filter(|h| h.failed() || h.status == 0)
        })?;
    let mut line = format!("{} {} {}", hop.to, hop.method, general_path(&hop.path));
    if let Some(credential) = &hop.credential {
        line.push_str(" with a ");
        line.push_str(credential);
    }
    line.push_str(" → ");
    if hop.status == 0 {
        line.push_str("no answer");
    } else {
        line.push_str(&hop.status.to_string());
    }
    if let Some(error) = &hop.error {
        line.push(' ');
        line.push_str(error);
    }
    Some(line)
}

/// A path with its ids as `{id}` (UUIDs, `ObjectId`s, numbers), so that the
/// same call on different groups is one call; the query left out.
fn general_path(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    path.split('/')
        .map(|part| {
            let id = uuid::Uuid::parse_str(part).is_ok()
                || (part.len() == 24 && part.chars().all(|c| c.is_ascii_hexdigit()))
                || (!part.is_empty() && part.chars().all(|c| c.is_ascii_digit()));
            if id { "{id}" } else { part }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A check's family: its id's first two parts (`core.members`), three for
/// the generated fuzzing (`strict.fuzz.chat`).
fn family(id: &str) -> String {
    let parts: Vec<&str> = id.split('.').collect();
    let take = if parts.get(1) == Some(&"fuzz") { 3 } else { 2 };
    parts[..take.min(parts.len())].join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(from: &str, to: &str, path: &str, status: u16, credential: &str) -> Hop {
        Hop {
            from: from.to_owned(),
            to: to.to_owned(),
            method: "GET".to_owned(),
            path: path.to_owned(),
            status,
            error: (status >= 400).then(|| "invalid_token".to_owned()),
            credential: Some(credential.to_owned()),
            scope: None,
            duration_ms: 1,
            started_ms: 0,
            trace: None,
        }
    }

    fn failure(id: &str, level: Level, hops: Vec<Hop>) -> CheckOutcome {
        CheckOutcome {
            id: id.to_owned(),
            level,
            rule: "CONTRACT Chat-API step 5".to_owned(),
            rule_place: None,
            status: crate::Status::Failed,
            scenario: "s.toml".to_owned(),
            scenario_id: "s".to_owned(),
            step: "a step".to_owned(),
            line: 1,
            message: "failed".to_owned(),
            expected: None,
            actual: None,
            request: None,
            response: None,
            curl: None,
            duration_ms: 0,
            expected_failure: None,
            hops,
            diagram: None,
        }
    }

    #[test]
    fn the_same_call_refused_on_two_groups_is_one_cause() {
        let seed = |group: &str| {
            vec![
                hop(
                    "harness",
                    "chat-api",
                    "/api/chat/groups/x/messages",
                    502,
                    "user token",
                ),
                hop(
                    "chat-api",
                    "auth-api",
                    &format!("/api/auth/groups/{group}/members"),
                    401,
                    "service token",
                ),
            ]
        };
        let direct = vec![hop(
            "harness",
            "auth-api",
            "/api/auth/groups/01a24c75-f407-77a0-94d0-04ed6cbee379/members",
            401,
            "service token",
        )];
        let failures = [
            failure(
                "strict.fuzz.chat.x",
                Level::Strict,
                seed("0193a1c0-0000-7000-8000-000000000001"),
            ),
            failure(
                "core.seed.send",
                Level::Core,
                seed("0193a1c0-0000-7000-8000-000000000002"),
            ),
            failure("core.members.service-token", Level::Core, direct),
            failure("core.token.basic", Level::Core, Vec::new()),
        ];
        let causes = causes(&failures);
        assert_eq!(causes.len(), 2, "{causes:#?}");
        assert_eq!(
            causes[0].what,
            "auth-api GET /api/auth/groups/{id}/members with a service token → 401 invalid_token"
        );
        assert_eq!(causes[0].checks.len(), 3);
        assert_eq!(causes[0].checks[0].level, Level::Core);
        assert_eq!(causes[0].by_level(), "core 2, strict 1");
        assert_eq!(causes[1].what, "core.token");
        assert!(!causes[1].broken_call);
    }
}
