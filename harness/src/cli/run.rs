//! `conformance run` (and `snapshot`): the flags, the target they name,
//! the harness they make, and the reports written after.

use std::path::PathBuf;

use clap::Args;
use conformance::scenario::Level;
use conformance::{
    ConfigFile, Harness, HarnessError, PropertyOptions, RunReport, SnapshotMode, Target, report,
};
#[cfg(feature = "reference")]
use conformance::{ReferenceStack, StackOptions, StoreChoice};

// Each bool is an on/off flag of the command line, as clap reads them.
#[allow(clippy::struct_excessive_bools)]
#[derive(Args)]
pub struct RunArgs {
    /// The auth-api of an external deployment. Given alone (no
    /// --chat-url), the reference chat-api is started beside it, registered
    /// there as a client with groups:read through the admin endpoint.
    #[arg(long, conflicts_with = "config")]
    pub auth_url: Option<String>,
    /// The chat-api of an external deployment.
    #[arg(long, requires = "auth_url", conflicts_with = "config")]
    pub chat_url: Option<String>,
    /// The external auth-api's admin token (or `CONFORMANCE_ADMIN_TOKEN`).
    #[arg(long, env = "CONFORMANCE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// A `conformance proxy` between the deployment's chat-api and
    /// auth-api, for the checks that observe their calls.
    #[arg(long)]
    pub observe: Option<String>,
    /// A PEM file of CA certificates to trust besides the platform's, for a
    /// deployment behind a private CA (also `cacert` in the config file).
    #[arg(long)]
    pub cacert: Option<PathBuf>,
    /// The deployment's token signing key (PKCS#8 PEM), for the attacks that
    /// forge validly signed tokens; without it they are skipped.
    #[arg(long)]
    pub signing_key: Option<PathBuf>,
    /// A configuration file for an external deployment (fixtures/conformance.example.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The reference stack's stores, when no target is given.
    #[cfg(feature = "reference")]
    #[arg(long, value_enum, default_value = "embedded")]
    pub store: StoreChoice,
    /// The level that gates the exit code, with those below it: core,
    /// strict or reference. Default: core for an external target, reference
    /// (everything) for the embedded reference stack.
    #[arg(long)]
    pub level: Option<String>,
    /// Only checks whose id starts with this (repeatable).
    #[arg(long)]
    pub only: Vec<String>,
    /// Only scenarios with this tag (repeatable).
    #[arg(long)]
    pub tag: Vec<String>,
    /// Scenarios run at once.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Generated client ids each property check tries.
    #[arg(long, default_value_t = 32)]
    pub cases: u32,
    /// The property checks' seed (printed by a failure), to reproduce it.
    #[arg(long, value_parser = parse_seed)]
    pub seed: Option<u64>,
    /// A JSON report of an earlier run: a check that passed there and fails
    /// now fails this run, whatever its level.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Keep the users, groups and clients the run made on the target (and
    /// list them) instead of deleting them at the end.
    #[arg(long)]
    pub keep_accounts: bool,
    /// Print the failures that do not gate the run in full too (by
    /// default they are listed after the verdict).
    #[arg(long)]
    pub all_failures: bool,
    /// Fail the run when a gated check was skipped (no --observe, no
    /// --signing-key, a MAY declined…): for a gate that must be complete.
    /// The summary says what was skipped and why either way.
    #[arg(long)]
    pub complete: bool,
    /// With --baseline: accept checks that passed there and are skipped or
    /// gone now (they are still listed).
    #[arg(long, requires = "baseline")]
    pub allow_skips: bool,
    /// Checks this deployment is known to fail (`"check.id" = "reason"`
    /// lines): their failures do not gate, and their passing does.
    #[arg(long)]
    pub expected_failures: Option<PathBuf>,
    /// Hold the answers against the snapshots in this folder (default: the
    /// reference's, committed in scenarios/snapshots).
    #[arg(long, conflicts_with = "update_snapshots")]
    pub snapshots: Option<PathBuf>,
    /// Rewrite the reference's committed snapshots from this run (the
    /// reference stack only).
    #[arg(long)]
    pub update_snapshots: bool,
    /// Write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the self-contained HTML report here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Write the JUnit XML report here (one test case per check).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write a short Markdown summary here (counts by level, the failed
    /// checks with their rule and broken hop), for a CI job summary or a
    /// merge-request comment.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// A folder of a team's own scenarios, added to the bundled ones
    /// (repeatable). The bundled scenarios and snapshots are embedded in the
    /// binary.
    #[arg(long)]
    pub scenarios: Vec<PathBuf>,
}

/// Writes one kind of report to a file.
type WriteReport = fn(&RunReport, &std::path::Path) -> std::io::Result<()>;

/// Runs the harness as the flags say: its exit code (0 passed, 1 failed,
/// 130 interrupted).
pub async fn run(args: RunArgs, mode: Option<SnapshotMode>) -> Result<u8, HarnessError> {
    let snapshots = snapshot_mode(&args, mode)?;
    // What was started for the run lives as long as the run.
    let started = target(&args).await?;
    let harness = harness(&args, started.target.clone(), snapshots)?;
    if let Some(client) = &started.chat_client {
        harness.options().created.client(client);
    }
    let total = harness.options().selected_count(&harness.load_scenarios()?);
    let progress = report::Progress::new(total);
    let started = std::time::SystemTime::now();
    let on_check = |outcome: &conformance::CheckOutcome| progress.check_done(outcome);
    // Ctrl-C stops the run but not the cleanup: the accounts it made so
    // far are deleted before the harness exits 130.
    let outcome = tokio::select! {
        report = harness.run_with(&on_check) => Some(report),
        _ = tokio::signal::ctrl_c() => None,
    };
    let Some(report) = outcome else {
        harness.tidy().await;
        eprintln!("conformance: interrupted");
        return Ok(130);
    };
    let report = report?;
    if let SnapshotMode::Write(dir) = &harness.options().snapshots
        && written_since(dir, started) == 0
    {
        return Err(HarnessError::Write {
            path: dir.display().to_string(),
            why: "no snapshot was written: no scenario answered (all skipped or filtered out?)"
                .to_owned(),
        });
    }
    if args.all_failures {
        print!("{}", report::summary_all(&report));
    } else {
        print!("{}", report::summary_line(&report));
    }
    write_reports(&args, &report)?;
    Ok(u8::try_from(report.exit_code()).unwrap_or(1))
}

/// Whether the run compares snapshots (the bundled ones or a folder's) or
/// writes them (`snapshot --out`, `--update-snapshots`).
fn snapshot_mode(args: &RunArgs, mode: Option<SnapshotMode>) -> Result<SnapshotMode, HarnessError> {
    let external = args.auth_url.is_some() || args.config.is_some();
    if args.update_snapshots && external {
        return Err(HarnessError::Config(
            "--update-snapshots rewrites the reference's snapshots: run it without a target (use `conformance snapshot --out DIR` for a deployment)".to_owned(),
        ));
    }
    Ok(match (mode, &args.snapshots) {
        (Some(mode), _) => mode,
        (None, _) if args.update_snapshots => {
            let dir = conformance::snapshot::bundled_dir();
            if !dir.is_dir() {
                return Err(HarnessError::Config(format!(
                    "--update-snapshots rewrites the reference's snapshots in the source tree ({}), which is not here",
                    dir.display()
                )));
            }
            SnapshotMode::Write(dir)
        }
        (None, Some(dir)) => SnapshotMode::Compare(conformance::snapshot::Source::Dir(dir.clone())),
        (None, None) => SnapshotMode::Compare(conformance::snapshot::Source::Bundled),
    })
}

/// The target a run checks, and what it started for it.
struct Started {
    target: Target,
    /// The reference services started here, kept alive by the caller.
    _services: Option<Box<dyn std::any::Any>>,
    /// The OAuth client registered on the team's auth-api for the
    /// reference chat-api beside it: deleted with the run's accounts.
    chat_client: Option<String>,
}

/// The target the flags name (a configuration file, two URLs, an auth-api
/// alone with the reference chat-api beside it, or the reference stack
/// started here), with its recorder, CA and signing key.
async fn target(args: &RunArgs) -> Result<Started, HarnessError> {
    let mut started = if let Some(path) = &args.config {
        let mut file = ConfigFile::load(path)?;
        if file.admin_token.is_none() {
            file.admin_token.clone_from(&args.admin_token);
        }
        Started {
            target: file.into_target()?,
            _services: None,
            chat_client: None,
        }
    } else if let Some(auth_url) = &args.auth_url {
        let admin_token = args.admin_token.clone().ok_or_else(|| {
            HarnessError::Config(
                "an external target needs --admin-token, or --config with [accounts]".to_owned(),
            )
        })?;
        if let Some(chat_url) = &args.chat_url {
            Started {
                target: Target::at(auth_url, chat_url).with_admin_token(admin_token),
                _services: None,
                chat_client: None,
            }
        } else {
            let mut auth = Target::at(auth_url, "").with_admin_token(admin_token);
            if let Some(path) = &args.cacert {
                auth.trust_ca_file(path)?;
            }
            chat_beside(auth).await?
        }
    } else {
        let (target, stack) = reference_target(args).await?;
        Started {
            target,
            _services: Some(stack),
            chat_client: None,
        }
    };
    let target = &mut started.target;
    if let Some(url) = &args.observe {
        *target = target.clone().with_recorder(url);
    }
    if let Some(path) = &args.cacert {
        target.trust_ca_file(path)?;
    }
    if let Some(path) = &args.signing_key {
        *target = target.clone().with_signing_key_file(path)?;
    }
    Ok(started)
}

/// The reference chat-api started beside an auth-api given alone.
#[cfg(feature = "reference")]
async fn chat_beside(auth: Target) -> Result<Started, HarnessError> {
    eprintln!(
        "conformance: no --chat-url: starting the reference chat-api beside the auth-api at {}",
        auth.auth_url
    );
    let chat = conformance::ReferenceChat::start(&auth).await?;
    Ok(Started {
        target: chat.target.clone(),
        chat_client: Some(chat.client_id.clone()),
        _services: Some(Box::new(chat)),
    })
}

/// Built without the reference: an auth-api alone has no chat-api to
/// stand beside it. (Async only to match the other.)
#[cfg(not(feature = "reference"))]
#[allow(clippy::unused_async)]
async fn chat_beside(_: Target) -> Result<Started, HarnessError> {
    Err(HarnessError::Config(
        "this build has no reference chat-api (feature `reference`) to check an auth-api alone: give --chat-url too".to_owned(),
    ))
}

/// The harness the flags describe; the gate is the target's default
/// unless `--level` names one.
fn harness(
    args: &RunArgs,
    target: Target,
    snapshots: SnapshotMode,
) -> Result<Harness, HarnessError> {
    let mut harness = Harness::new(target)
        .jobs(args.jobs)
        .properties(PropertyOptions {
            cases: args.cases,
            seed: args.seed.unwrap_or_else(|| PropertyOptions::default().seed),
        })
        .snapshots(snapshots)
        .keep_accounts(args.keep_accounts)
        .complete(args.complete);
    if let Some(level) = args.level.as_deref() {
        harness = harness.level(Level::parse(level).ok_or_else(|| {
            HarnessError::Config(format!(
                "--level is core, strict or reference, not {level:?}"
            ))
        })?);
    }
    for prefix in &args.only {
        harness = harness.only(prefix.clone());
    }
    for tag in &args.tag {
        harness = harness.tag(tag.clone());
    }
    for dir in &args.scenarios {
        harness = harness.scenarios(dir.clone());
    }
    if let Some(path) = &args.expected_failures {
        harness = harness.expected_failures(path)?;
    }
    if let Some(path) = &args.baseline {
        harness = harness.baseline(path, args.allow_skips)?;
    }
    Ok(harness)
}

/// The report files the flags ask for.
fn write_reports(args: &RunArgs, report: &RunReport) -> Result<(), HarnessError> {
    let writers: [(&Option<PathBuf>, WriteReport); 4] = [
        (&args.json, report::write_json),
        (&args.html, report::write_html),
        (&args.junit, report::write_junit),
        (&args.markdown, report::write_markdown),
    ];
    for (path, write) in writers {
        if let Some(path) = path {
            write(report, path)
                .map_err(|e| HarnessError::Config(format!("{}: {e}", path.display())))?;
        }
    }
    Ok(())
}

/// The reference stack started in this process, for a run without a
/// target: its target, and what keeps it running.
#[cfg(feature = "reference")]
async fn reference_target(
    args: &RunArgs,
) -> Result<(Target, Box<dyn std::any::Any>), HarnessError> {
    eprintln!(
        "conformance: starting the reference stack ({:?} store)",
        args.store
    );
    let stack = ReferenceStack::start(StackOptions {
        store: Some(args.store),
        ..StackOptions::default()
    })
    .await?;
    Ok((stack.target.clone(), Box::new(stack)))
}

/// Built without the reference: a run needs a target. (Async only to
/// match the other.)
#[cfg(not(feature = "reference"))]
#[allow(clippy::unused_async)]
async fn reference_target(_: &RunArgs) -> Result<(Target, Box<dyn std::any::Any>), HarnessError> {
    Err(HarnessError::Config(
        "this build has no reference stack (feature `reference`): give --auth-url and --chat-url, or --config".to_owned(),
    ))
}

/// How many `.snap` files in `dir` were written since `since`.
fn written_since(dir: &std::path::Path, since: std::time::SystemTime) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "snap"))
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since)
        })
        .count()
}

/// A seed in decimal or `0x` hexadecimal, as failures print it.
fn parse_seed(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|e| format!("{text:?} is no seed: {e}"))
}
