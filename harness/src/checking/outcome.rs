use serde::{Deserialize, Serialize};

use crate::sources::scenario::Level;

/// Whether a check passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It held.
    Passed,
    /// It did not.
    Failed,
    /// It was not run (a need the target lacks, or a filter).
    Skipped,
}

impl Status {
    /// `passed`, `failed` or `skipped`, as in the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

/// The result of one check: data, not an error.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckOutcome {
    /// The check's stable id.
    pub id: String,
    /// Its level.
    pub level: Level,
    /// The rule it enforces (`CONTRACT …`, `RFC … §…`, `decisions: …`).
    #[serde(default)]
    pub rule: String,
    /// Where the project states that rule (`docs/contract.md#anchor`),
    /// for a contract rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_place: Option<String>,
    /// Passed, failed or skipped.
    pub status: Status,
    /// The scenario file.
    pub scenario: String,
    /// The scenario's id.
    pub scenario_id: String,
    /// The step's name.
    pub step: String,
    /// The step's line in the scenario file.
    pub line: usize,
    /// What happened, in a sentence.
    pub message: String,
    /// What was expected, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What came back, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// The request, `METHOD URL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// The response: status and body, secrets redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// A command that reproduces the failure: a curl line that sends the
    /// request again (secrets as `$NAMES`), or for a generated check, the
    /// `conformance run` line with its seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curl: Option<String>,
    /// How long the step took.
    pub duration_ms: u64,
    /// Why this check is expected to fail here (`--expected-failures`):
    /// its failure is shown but does not gate, and its passing does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_failure: Option<String>,
    /// The calls the step made and caused, in order (the harness's
    /// requests and, where observed, the chat-api's calls to the auth-api).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hops: Vec<crate::run::hop::Hop>,
    /// For a failed check whose request went through more than one
    /// service: the sequence diagram of its hops, the broken one marked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagram: Option<String>,
}

impl CheckOutcome {
    /// The rule, followed by where it is stated when it has a place.
    pub fn rule_and_place(&self) -> String {
        match &self.rule_place {
            Some(place) => format!("{} ({place})", self.rule),
            None => self.rule.clone(),
        }
    }
}

/// The counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Checks that held.
    pub passed: usize,
    /// Checks that did not.
    pub failed: usize,
    /// Checks not run.
    pub skipped: usize,
}

impl Summary {
    /// Counts one more check.
    pub fn add(&mut self, status: Status) {
        match status {
            Status::Passed => self.passed += 1,
            Status::Failed => self.failed += 1,
            Status::Skipped => self.skipped += 1,
        }
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// Counts.
    pub summary: Summary,
    /// Counts at each level.
    #[serde(default)]
    pub by_level: std::collections::BTreeMap<Level, Summary>,
    /// The level that gates the exit code.
    pub gate: Level,
    /// Failed checks at or below the gate.
    pub gated_failures: usize,
    /// The target.
    pub target: TargetInfo,
    /// How long the run took.
    pub duration_ms: u64,
    /// Every check.
    pub checks: Vec<CheckOutcome>,
    /// Expected failures (`--expected-failures`) that passed: the list is
    /// out of date, and that fails the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unexpected_passes: Vec<String>,
    /// The comparison with `--baseline`, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Diff>,
    /// What the verdict did not cover: the gated checks that were skipped,
    /// by level and reason, most first.
    #[serde(default)]
    pub uncovered: Vec<Uncovered>,
    /// Whether a skipped gated check fails the run (`--complete`): for a
    /// gate that must cover everything it names.
    #[serde(default)]
    pub complete: bool,
}

/// Gated checks of one level skipped for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uncovered {
    /// Their level.
    pub level: Level,
    /// Why they were skipped.
    pub reason: String,
    /// How many.
    pub checks: usize,
}

impl Uncovered {
    /// "strict: 91 checks skipped: needs signing-key, …".
    pub fn line(&self) -> String {
        format!(
            "{}: {} check{} skipped: {}",
            self.level,
            self.checks,
            if self.checks == 1 { "" } else { "s" },
            self.reason
        )
    }
}

/// The reason a skipped check names, as the coverage groups it: its
/// message, cut where a long one goes into the particulars of one check.
fn skip_reason(message: &str) -> String {
    const MAX: usize = 140;
    if message.chars().count() <= MAX {
        message.to_owned()
    } else {
        format!("{}…", message.chars().take(MAX).collect::<String>())
    }
}

/// How a later report differs from an earlier one, by check id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    /// Passed then, failed now: these fail the gate.
    pub regressions: Vec<Change>,
    /// Failed then, passed now.
    pub fixes: Vec<Change>,
    /// Checks only the later report has.
    pub added: Vec<String>,
    /// Checks only the earlier report has.
    pub removed: Vec<String>,
    /// Passed then, skipped or gone now: nothing is known of them any
    /// more, which fails the gate unless skips are allowed.
    #[serde(default)]
    pub lost: Vec<Change>,
    /// Whether `--allow-skips` accepted the lost checks.
    #[serde(default)]
    pub skips_allowed: bool,
}

/// One check whose status changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The check id.
    pub id: String,
    /// What the later run says about it.
    pub message: String,
}

/// Where the run went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetInfo {
    /// The auth-api's URL.
    pub auth_url: String,
    /// The chat-api's URL.
    pub chat_url: String,
}

impl RunReport {
    /// A report of these outcomes, gated at `gate`.
    pub fn new(
        checks: Vec<CheckOutcome>,
        gate: Level,
        target: TargetInfo,
        duration_ms: u64,
    ) -> Self {
        let mut summary = Summary::default();
        let mut by_level = std::collections::BTreeMap::new();
        for check in &checks {
            summary.add(check.status);
            by_level
                .entry(check.level)
                .or_insert_with(Summary::default)
                .add(check.status);
        }
        let mut report = Self {
            summary,
            by_level,
            gate,
            gated_failures: 0,
            target,
            duration_ms,
            checks,
            unexpected_passes: Vec::new(),
            baseline: None,
            uncovered: Vec::new(),
            complete: false,
        };
        report.regate();
        report
    }

    /// Whether a check's failure gates this run: at or below the gate, and
    /// not expected to fail.
    pub fn gates(&self, check: &CheckOutcome) -> bool {
        check.level <= self.gate && check.expected_failure.is_none()
    }

    /// The failed checks that gate this run.
    pub fn gating_failures(&self) -> impl Iterator<Item = &CheckOutcome> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Failed && self.gates(c))
    }

    /// Counts the gated failures again: failed checks at or below the gate
    /// that are not expected to fail.
    pub fn regate(&mut self) {
        self.gated_failures = self.gating_failures().count();
        self.unexpected_passes = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Passed && c.expected_failure.is_some())
            .map(|c| c.id.clone())
            .collect();
        let mut uncovered: std::collections::BTreeMap<(Level, String), usize> =
            std::collections::BTreeMap::new();
        for check in self
            .checks
            .iter()
            .filter(|c| c.status == Status::Skipped && c.level <= self.gate)
        {
            *uncovered
                .entry((check.level, skip_reason(&check.message)))
                .or_default() += 1;
        }
        let mut uncovered: Vec<Uncovered> = uncovered
            .into_iter()
            .map(|((level, reason), checks)| Uncovered {
                level,
                reason,
                checks,
            })
            .collect();
        uncovered.sort_by(|a, b| a.level.cmp(&b.level).then(b.checks.cmp(&a.checks)));
        self.uncovered = uncovered;
    }

    /// How many gated checks were skipped.
    pub fn gated_skips(&self) -> usize {
        self.uncovered.iter().map(|u| u.checks).sum()
    }

    /// One line of what the verdict did not cover, per level: "not
    /// covered: core 12 skipped, strict 93 skipped (gated)"; `None` when
    /// every gated check ran.
    pub fn coverage_line(&self) -> Option<String> {
        if self.uncovered.is_empty() {
            return None;
        }
        let mut per_level: std::collections::BTreeMap<Level, usize> =
            std::collections::BTreeMap::new();
        for u in &self.uncovered {
            *per_level.entry(u.level).or_default() += u.checks;
        }
        let levels: Vec<String> = per_level
            .iter()
            .map(|(level, n)| format!("{level} {n}"))
            .collect();
        Some(format!(
            "not covered: {} gated check(s) skipped ({}){}",
            self.gated_skips(),
            levels.join(", "),
            if self.complete {
                "; --complete fails the run on them"
            } else {
                "; --complete would fail the run on them"
            }
        ))
    }

    /// Whether the run passed: [`RunReport::exit_code`] is 0.
    pub fn passed(&self) -> bool {
        self.exit_code() == 0
    }

    /// The failures as the terminal shows them (scenario file and line,
    /// rule, expected and actual, the request, the curl line that
    /// reproduces it, the broken hop), then the counts.
    pub fn failures(&self) -> String {
        crate::report::summary_line(self)
    }

    /// Panics with [`RunReport::failures`] unless the run passed: the
    /// assertion for a team's `cargo test`.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(
            self.passed(),
            "the deployment does not conform:\n{}",
            self.failures()
        );
    }

    /// 0 when every gated check passed, no expected failure passed,
    /// nothing regressed against the baseline (a check that passed there
    /// and is skipped or gone here counts, unless skips are allowed) and,
    /// with `complete`, no gated check was skipped; else 1.
    pub fn exit_code(&self) -> i32 {
        let regressed = self
            .baseline
            .as_ref()
            .is_some_and(|d| !d.regressions.is_empty() || (!d.lost.is_empty() && !d.skips_allowed));
        let incomplete = self.complete && self.gated_skips() > 0;
        i32::from(
            self.gated_failures > 0
                || !self.unexpected_passes.is_empty()
                || regressed
                || incomplete,
        )
    }
}
