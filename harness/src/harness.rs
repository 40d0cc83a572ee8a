//! [`Harness`]: one run of the contract against a deployment, as a team's
//! own test makes it (and as `conformance run` does).

use std::path::{Path, PathBuf};

use crate::checking::gate::{self, ExpectedFailures};
use crate::checking::outcome::{CheckOutcome, RunReport};
use crate::error::HarnessError;
use crate::run::provision::{self, Cleanup};
use crate::run::target::Target;
use crate::run::{self, RunOptions, SnapshotMode};
use crate::sources::properties::PropertyOptions;
use crate::sources::scenario::{self, Level};

/// A run of the bundled scenarios (and a team's own) against a target.
///
/// ```no_run
/// # async fn example() -> Result<(), conformance::HarnessError> {
/// use conformance::{Harness, Level, Target};
///
/// let target = Target::at("https://auth.example.com", "https://chat.example.com")
///     .with_admin_token(std::env::var("CONFORMANCE_ADMIN_TOKEN").unwrap());
/// let report = Harness::new(target).level(Level::Strict).run().await?;
/// report.assert_passed();
/// # Ok(())
/// # }
/// ```
///
/// The run provisions its own users, group and clients on the target (with
/// the admin token) and deletes them when it ends, whatever the outcome.
pub struct Harness {
    target: Target,
    scenario_dirs: Vec<PathBuf>,
    options: RunOptions,
    expected: Option<ExpectedFailures>,
    baseline: Option<(RunReport, bool)>,
    keep_accounts: bool,
    complete: bool,
}

impl Harness {
    /// The bundled scenarios against `target`, gated at its
    /// [`Target::default_gate`] (core for a deployment).
    pub fn new(target: Target) -> Self {
        Self {
            options: RunOptions {
                gate: target.default_gate(),
                ..RunOptions::default()
            },
            target,
            scenario_dirs: Vec::new(),
            expected: None,
            baseline: None,
            keep_accounts: false,
            complete: false,
        }
    }

    /// The target a configuration file describes (see
    /// `fixtures/conformance.example.toml`).
    pub fn from_config(path: impl AsRef<Path>) -> Result<Self, HarnessError> {
        Ok(Self::new(Target::from_config(path.as_ref())?))
    }

    /// Every run option at once, the gate included (the methods above and
    /// below set one each).
    #[must_use]
    pub fn with_options(mut self, options: RunOptions) -> Self {
        self.options = options;
        self
    }

    /// The level whose failures (with those below it) fail the run.
    #[must_use]
    pub fn level(mut self, level: Level) -> Self {
        self.options.gate = level;
        self
    }

    /// Only scenarios with this tag (repeatable).
    #[must_use]
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.options.tags.push(tag.into());
        self
    }

    /// Only checks whose id starts with this (repeatable).
    #[must_use]
    pub fn only(mut self, prefix: impl Into<String>) -> Self {
        self.options.only.push(prefix.into());
        self
    }

    /// A folder of the team's own scenarios, run beside the bundled ones.
    #[must_use]
    pub fn scenarios(mut self, dir: impl Into<PathBuf>) -> Self {
        self.scenario_dirs.push(dir.into());
        self
    }

    /// How many scenarios run at once (default 4).
    #[must_use]
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.options.jobs = jobs.max(1);
        self
    }

    /// Cases and seed of the generated property checks.
    #[must_use]
    pub fn properties(mut self, properties: PropertyOptions) -> Self {
        self.options.properties = properties;
        self
    }

    /// What to do with the snapshots of the answers (default: compare with
    /// the reference's, at the `reference` level).
    #[must_use]
    pub fn snapshots(mut self, snapshots: SnapshotMode) -> Self {
        self.options.snapshots = snapshots;
        self
    }

    /// Checks this deployment is known to fail (`"check.id" = "reason"`
    /// lines): their failures do not gate, and their passing does.
    pub fn expected_failures(mut self, path: impl AsRef<Path>) -> Result<Self, HarnessError> {
        self.expected = Some(ExpectedFailures::load(path.as_ref())?);
        Ok(self)
    }

    /// A JSON report of an earlier run: a check that passed there and
    /// fails now fails this run, whatever its level. With `allow_skips`, a
    /// check that passed there and is skipped or gone now does not.
    pub fn baseline(
        mut self,
        path: impl AsRef<Path>,
        allow_skips: bool,
    ) -> Result<Self, HarnessError> {
        self.baseline = Some((gate::load_report(path.as_ref())?, allow_skips));
        Ok(self)
    }

    /// A gated check that was skipped fails the run: for a gate that must
    /// cover everything it names (a release gate at `strict` with
    /// observation and the signing key).
    #[must_use]
    pub fn complete(mut self, complete: bool) -> Self {
        self.complete = complete;
        self
    }

    /// Keep the accounts the run makes instead of deleting them.
    #[must_use]
    pub fn keep_accounts(mut self, keep: bool) -> Self {
        self.keep_accounts = keep;
        self
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The run's options.
    pub fn options(&self) -> &RunOptions {
        &self.options
    }

    /// The scenarios the run reads: the bundled ones and the team's.
    pub fn load_scenarios(&self) -> Result<Vec<scenario::Scenario>, HarnessError> {
        Ok(scenario::load(&self.scenario_dirs)?)
    }

    /// Runs every selected check, then deletes the accounts the run made.
    pub async fn run(&self) -> Result<RunReport, HarnessError> {
        self.run_with(&|_| {}).await
    }

    /// [`Harness::run`], with `on_check` seeing each outcome as it is
    /// decided (progress output).
    pub async fn run_with(
        &self,
        on_check: &(dyn Fn(&CheckOutcome) + Sync),
    ) -> Result<RunReport, HarnessError> {
        let scenarios = self.load_scenarios()?;
        if let Some(expected) = &self.expected {
            expected.check_known(&run::check_ids(&scenarios))?;
        }
        let outcome = run::run(&scenarios, &self.target, &self.options, on_check).await;
        self.tidy().await;
        let mut report = outcome?;
        report.complete = self.complete;
        if let Some(expected) = &self.expected {
            expected.apply(&mut report);
        }
        if let Some((baseline, allow_skips)) = &self.baseline {
            let mut diff = gate::diff(baseline, &report);
            diff.skips_allowed = *allow_skips;
            report.baseline = Some(diff);
        }
        Ok(report)
    }

    /// Deletes what the run made so far on the target, or with
    /// [`Harness::keep_accounts`] lists it; says which on standard error.
    /// [`Harness::run`] does it itself; this is for a run stopped midway.
    pub async fn tidy(&self) -> Cleanup {
        let (users, clients) = self.options.created.list();
        if users.is_empty() && clients.is_empty() {
            return Cleanup::default();
        }
        if self.keep_accounts {
            eprintln!(
                "conformance: kept the accounts it made (--keep-accounts): users {}; clients {}",
                users.join(", "),
                clients.join(", ")
            );
            return Cleanup::default();
        }
        let done = provision::cleanup(&self.target, &self.options.created).await;
        eprintln!(
            "conformance: deleted the {} users (with their groups) and {} clients it made",
            done.users, done.clients
        );
        for left in &done.left {
            eprintln!("conformance: could not delete {left}");
        }
        done
    }
}
