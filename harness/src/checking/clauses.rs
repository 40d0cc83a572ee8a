//! The contract sentence by sentence. A rule of the contract
//! ([`crate::checking::rules::CONTRACT`]) states several obligations; each is a
//! clause, with its anchor in `docs/contract.md` and the checks that
//! enforce it, listed in `clauses.toml` beside this file (embedded in the
//! binary). `conformance rules` prints them; tests keep every clause
//! enforced by a check that exists, every contract check under a clause of
//! its rule, and (in the harness's test suite) every clause shown caught
//! by a fault that breaks only it.

use std::sync::LazyLock;

use serde::Deserialize;

/// One obligation of the contract.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clause {
    /// Its anchor in `docs/contract.md`, unique.
    pub id: String,
    /// The rule it belongs to, as checks name it (`CONTRACT …`).
    pub rule: String,
    /// The obligation in a sentence.
    pub text: String,
    /// The checks that enforce it: check ids, where `*` stands for any
    /// run of characters (`strict.jwt.*.chat-send`).
    pub checks: Vec<String>,
    /// The one member of one answer the clause is about, when it is one.
    #[serde(default)]
    pub member: Option<Member>,
    /// The one refusal the clause is about, when it is one.
    #[serde(default)]
    pub refusal: Option<Refusal>,
}

/// Whether `method path` is the request `answer` names (`POST
/// /auth/login`; a path segment in braces stands for any).
fn names_request(answer: &str, method: &str, path: &str) -> bool {
    let Some((want_method, want_path)) = answer.split_once(' ') else {
        return false;
    };
    let (want, got): (Vec<&str>, Vec<&str>) =
        (want_path.split('/').collect(), path.split('/').collect());
    want_method == method
        && want.len() == got.len()
        && want
            .iter()
            .zip(&got)
            .all(|(w, g)| w == g || (w.starts_with('{') && w.ends_with('}')))
}

/// Whether the request `answer` names is the chat-api's.
fn from_chat(answer: &str) -> bool {
    answer.contains(" /api/chat/")
}

/// The one refusal a clause is about: a fault that answers it with
/// another status and code (the seed's class of bug: a 403 answered 401)
/// must fail the clause's checks (the harness's test suite makes that fault
/// for every such clause).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    /// The request refused, as [`Member::answer`].
    pub answer: String,
    /// Its status.
    pub status: u16,
    /// Its error code, when the contract names one.
    #[serde(default)]
    pub error: Option<String>,
    /// Check families that rest on the refusal and fail with it, besides
    /// the clause's own.
    #[serde(default)]
    pub also: Vec<String>,
}

impl Refusal {
    /// Whether an answer is this refusal: its request, status and code.
    pub fn is(&self, method: &str, path: &str, status: u16, error: Option<&str>) -> bool {
        names_request(&self.answer, method, path)
            && status == self.status
            && self.error.as_deref().is_none_or(|want| error == Some(want))
    }

    /// The other refusal the fault answers instead: a 401 `invalid_token`,
    /// or for a 401 a 403 `forbidden`.
    pub fn instead(&self) -> (u16, &'static str) {
        if self.status == 401 {
            (403, "forbidden")
        } else {
            (401, "invalid_token")
        }
    }

    /// Whether the refusal comes from the chat-api.
    pub fn at_chat(&self) -> bool {
        from_chat(&self.answer)
    }
}

/// The one member of one answer a clause is about: a fault that leaves it
/// out of that answer must fail the clause's checks (the harness's test
/// suite makes that fault for every such clause).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// The request whose answer carries it (`POST /auth/login`); a path
    /// segment in braces stands for any (`GET /api/auth/groups/{id}`).
    pub answer: String,
    /// Where it is: an RFC 6901 pointer into the JSON answer, `*` for
    /// every item of an array (`/members/*/role`).
    #[serde(default)]
    pub pointer: Option<String>,
    /// Or a claim of the token the answer carries at `/access_token`.
    #[serde(default)]
    pub claim: Option<String>,
    /// Check families that rest on the member and fail with it, besides
    /// the clause's own: the chat-api reads it, or a scenario needs it to
    /// go on (`core.chat.` when the chat-api reads the group's `org_id`).
    #[serde(default)]
    pub also: Vec<String>,
}

impl Member {
    /// Whether a request is the one whose answer carries the member.
    pub fn answers(&self, method: &str, path: &str) -> bool {
        names_request(&self.answer, method, path)
    }

    /// Whether the answer comes from the chat-api.
    pub fn at_chat(&self) -> bool {
        from_chat(&self.answer)
    }

    /// Takes the member out of a JSON answer (out of each item where the
    /// pointer says `*`); whether there was one to take.
    pub fn take_out(&self, answer: &mut serde_json::Value) -> bool {
        fn take(value: &mut serde_json::Value, path: &[&str]) -> bool {
            match path {
                [] => false,
                [last] => value
                    .as_object_mut()
                    .is_some_and(|object| object.remove(*last).is_some()),
                // From every item, not only up to the first that had it.
                ["*", rest @ ..] => value.as_array_mut().is_some_and(|items| {
                    let took: Vec<bool> = items.iter_mut().map(|item| take(item, rest)).collect();
                    took.contains(&true)
                }),
                [first, rest @ ..] => value.get_mut(*first).is_some_and(|inner| take(inner, rest)),
            }
        }
        let Some(pointer) = &self.pointer else {
            return false;
        };
        let path: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
        take(answer, &path)
    }
}

impl Clause {
    /// Whether the check `id` is one of this clause's.
    pub fn enforced_by(&self, id: &str) -> bool {
        self.checks.iter().any(|pattern| matches(pattern, id))
    }
}

/// Whether a check id matches a clause's pattern, where `*` stands for
/// any run of characters.
pub fn matches(pattern: &str, id: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = id.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    clause: Vec<Clause>,
}

static CLAUSES: LazyLock<Vec<Clause>> = LazyLock::new(|| {
    toml::from_str::<File>(include_str!("clauses.toml"))
        .expect("harness/src/clauses.toml is well-formed (a test reads it)")
        .clause
});

/// Every clause, in the contract's order.
pub fn all() -> &'static [Clause] {
    &CLAUSES
}

/// The clauses of a rule, in order.
pub fn of_rule(rule: &str) -> impl Iterator<Item = &'static Clause> + '_ {
    all().iter().filter(move |c| c.rule == rule)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::checking::rules::CONTRACT;

    fn catalogue() -> BTreeSet<(String, crate::Level, String)> {
        crate::run::checks(&crate::sources::scenario::bundled().expect("the bundled scenarios"))
    }

    #[test]
    fn a_member_names_its_answer_and_comes_out_of_it() {
        let member = Member {
            answer: "GET /api/auth/groups/{id}/members".to_owned(),
            pointer: Some("/members/*/role".to_owned()),
            claim: None,
            also: Vec::new(),
        };
        assert!(member.answers("GET", "/api/auth/groups/0b5e/members"));
        assert!(!member.answers("GET", "/api/auth/groups/0b5e"));
        assert!(!member.answers("POST", "/api/auth/groups/0b5e/members"));
        assert!(!member.at_chat());
        let mut answer = serde_json::json!({ "members": [
            { "user_id": "a", "role": "owner" },
            { "user_id": "b", "role": "member" },
        ] });
        assert!(member.take_out(&mut answer));
        assert_eq!(
            answer,
            serde_json::json!({ "members": [{ "user_id": "a" }, { "user_id": "b" }] })
        );
        assert!(!member.take_out(&mut answer), "nothing left to take");
    }

    #[test]
    fn a_refusal_is_its_request_status_and_code() {
        let refusal = Refusal {
            answer: "GET /api/auth/groups/{id}".to_owned(),
            status: 403,
            error: Some("forbidden".to_owned()),
            also: Vec::new(),
        };
        assert!(refusal.is("GET", "/api/auth/groups/0b5e", 403, Some("forbidden")));
        assert!(!refusal.is(
            "GET",
            "/api/auth/groups/0b5e",
            403,
            Some("insufficient_scope")
        ));
        assert!(!refusal.is(
            "GET",
            "/api/auth/groups/0b5e/members",
            403,
            Some("forbidden")
        ));
        assert_eq!(refusal.instead(), (401, "invalid_token"));
    }

    /// Every member clause names one answer and one place in it.
    #[test]
    fn every_member_names_an_answer_and_one_place() {
        for clause in all() {
            if let Some(member) = &clause.member {
                assert!(
                    member.pointer.is_some() != member.claim.is_some(),
                    "{}: a pointer or a claim",
                    clause.id
                );
                let (method, path) = member.answer.split_once(' ').unwrap_or_default();
                assert!(
                    ["GET", "POST", "DELETE"].contains(&method) && path.starts_with('/'),
                    "{}: {:?}",
                    clause.id,
                    member.answer
                );
            }
        }
    }

    #[test]
    fn patterns_match_ids_and_globs() {
        assert!(matches("core.a", "core.a"));
        assert!(!matches("core.a", "core.ab"));
        assert!(matches("core.*", "core.ab"));
        assert!(matches(
            "strict.jwt.*.chat-send",
            "strict.jwt.alg-none.chat-send"
        ));
        assert!(!matches(
            "strict.jwt.*.chat-send",
            "strict.jwt.alg-none.chat-list"
        ));
        assert!(matches("core.bad-input.*-path", "core.bad-input.send-path"));
        assert!(!matches("a*a", "a"));
    }

    /// Every clause has an id of its own, belongs to a rule of the
    /// contract, and every rule has at least one clause.
    #[test]
    fn every_rule_is_stated_in_clauses() {
        let mut ids = BTreeSet::new();
        for clause in all() {
            assert!(ids.insert(&clause.id), "{} twice", clause.id);
            assert!(
                CONTRACT
                    .iter()
                    .all(|r| crate::checking::rules::anchor(r.name).as_deref()
                        != Some(clause.id.as_str())),
                "{}: a rule's anchor already",
                clause.id
            );
            assert!(
                CONTRACT.iter().any(|r| r.name == clause.rule),
                "{}: {} is no rule of the contract",
                clause.id,
                clause.rule
            );
        }
        for rule in CONTRACT {
            assert!(
                of_rule(rule.name).next().is_some(),
                "{} has no clause",
                rule.name
            );
        }
    }

    /// Every clause is enforced by checks that exist, and every check
    /// that names a contract rule enforces a clause of that rule.
    #[test]
    fn every_clause_has_checks_and_every_contract_check_a_clause() {
        let checks = catalogue();
        for clause in all() {
            assert!(!clause.checks.is_empty(), "{} has no checks", clause.id);
            for pattern in &clause.checks {
                assert!(
                    checks
                        .iter()
                        .any(|(id, _, _)| matches(pattern, id.as_str())),
                    "{}: no check matches {pattern}",
                    clause.id
                );
            }
        }
        let orphans: Vec<String> = checks
            .iter()
            .filter(|(_, _, rule)| rule.starts_with("CONTRACT "))
            .filter(|(id, _, rule)| !of_rule(rule).any(|c| c.enforced_by(id)))
            .map(|(id, _, rule)| format!("{id} ({rule})"))
            .collect();
        assert!(
            orphans.is_empty(),
            "checks under no clause of their rule:\n{}",
            orphans.join("\n")
        );
    }

    /// Every clause has its anchor in docs/contract.md, under its rule.
    #[test]
    fn every_clause_has_its_place_in_docs_contract_md() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/contract.md"),
        )
        .expect("docs/contract.md");
        let at = |anchor: &str| text.find(&format!("<a id=\"{anchor}\"></a>"));
        for (index, clause) in all().iter().enumerate() {
            let place = at(&clause.id)
                .unwrap_or_else(|| panic!("{} has no anchor in docs/contract.md", clause.id));
            let rule = at(&crate::checking::rules::anchor(&clause.rule).expect("a contract rule"))
                .expect("the rule's anchor");
            let next_rule = CONTRACT
                .iter()
                .filter_map(|r| at(&crate::checking::rules::anchor(r.name)?))
                .filter(|&other| other > rule)
                .min();
            assert!(
                place > rule && next_rule.is_none_or(|next| place < next),
                "{} (clause {index}) is not under {} in docs/contract.md",
                clause.id,
                clause.rule
            );
        }
    }
}
