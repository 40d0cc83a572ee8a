//! The contract sentence by sentence. A rule of the contract
//! ([`crate::rules::CONTRACT`]) states several obligations; each is a
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
    use crate::rules::CONTRACT;

    fn catalogue() -> BTreeSet<(String, crate::Level, String)> {
        crate::runner::checks(&crate::scenario::bundled().expect("the bundled scenarios"))
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
                    .all(|r| crate::rules::anchor(r.name).as_deref() != Some(clause.id.as_str())),
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
            let rule = at(&crate::rules::anchor(&clause.rule).expect("a contract rule"))
                .expect("the rule's anchor");
            let next_rule = CONTRACT
                .iter()
                .filter_map(|r| at(&crate::rules::anchor(r.name)?))
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
