//! The `conformance` command line: `run`, `serve`, `list`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use conformance::gate;
use conformance::scenario::{Level, load};
use conformance::{
    ConfigFile, Harness, HarnessError, PropertyOptions, RunReport, SnapshotMode, Target, report,
};
#[cfg(feature = "reference")]
use conformance::{ReferenceStack, StackOptions, StoreChoice};

#[derive(Parser)]
#[command(
    name = "conformance",
    version,
    about = "Checks an auth-api / chat-api pair against the contract"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the scenarios. With no target, against the reference stack started in-process.
    Run(Box<RunArgs>),
    /// Runs the reference stack (seeded with fixtures/seed.json) until Ctrl-C, for manual use.
    #[cfg(feature = "reference")]
    Serve {
        /// Where the reference stack keeps its data.
        #[arg(long, value_enum, default_value = "embedded")]
        store: StoreChoice,
    },
    /// Runs the scenarios against a target and writes its normalised answers
    /// to a folder, one `.snap` file per scenario, for `run --snapshots`.
    Snapshot {
        /// The folder to write.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        run: Box<RunArgs>,
    },
    /// Runs the reference auth-api alone, as its own binary does (same
    /// flags and `AUTH_API_*` variables), so one installed binary can stand
    /// the reference up as separate processes. Prints its URL first.
    #[cfg(feature = "reference")]
    AuthApi(Box<auth_api::Config>),
    /// Runs the reference chat-api alone, as its own binary does (same flags
    /// and `CHAT_API_*` variables). Prints its URL first.
    #[cfg(feature = "reference")]
    ChatApi(Box<chat_api::Config>),
    /// Compares two JSON reports: regressions, fixes, new and removed checks.
    /// Exits 1 when a check that passed in OLD fails in NEW.
    Diff {
        /// The earlier report (`run --json`).
        old: PathBuf,
        /// The later report.
        new: PathBuf,
    },
    /// Records the calls between a chat-api and its auth-api: put it in that
    /// path (the chat-api's auth-api URL pointing here) and give its URL to
    /// `run --observe`.
    Proxy {
        /// Where to listen, e.g. 0.0.0.0:9090.
        #[arg(long)]
        listen: String,
        /// The auth-api to forward to.
        #[arg(long)]
        upstream: String,
        /// A PEM file of CA certificates to trust for the upstream besides
        /// the platform's.
        #[arg(long)]
        cacert: Option<PathBuf>,
    },
    /// Lists the checks the scenarios make, with level and rule.
    List {
        /// A folder of a team's own scenarios, added to the bundled ones (repeatable).
        #[arg(long)]
        scenarios: Vec<PathBuf>,
    },
    /// Prints each rule of the contract and each RFC section and decision
    /// checked, with the checks that enforce it; then the contract's rules
    /// that no check enforces yet.
    Rules {
        /// A folder of a team's own scenarios, added to the bundled ones (repeatable).
        #[arg(long)]
        scenarios: Vec<PathBuf>,
    },
}

// Each bool is an on/off flag of the command line, as clap reads them.
#[allow(clippy::struct_excessive_bools)]
#[derive(Args)]
struct RunArgs {
    /// The auth-api of an external deployment.
    #[arg(long, requires = "chat_url", conflicts_with = "config")]
    auth_url: Option<String>,
    /// The chat-api of an external deployment.
    #[arg(long, requires = "auth_url", conflicts_with = "config")]
    chat_url: Option<String>,
    /// The external auth-api's admin token (or `CONFORMANCE_ADMIN_TOKEN`).
    #[arg(long, env = "CONFORMANCE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// A `conformance proxy` between the deployment's chat-api and
    /// auth-api, for the checks that observe their calls.
    #[arg(long)]
    observe: Option<String>,
    /// A PEM file of CA certificates to trust besides the platform's, for a
    /// deployment behind a private CA (also `cacert` in the config file).
    #[arg(long)]
    cacert: Option<PathBuf>,
    /// The deployment's token signing key (PKCS#8 PEM), for the attacks that
    /// forge validly signed tokens; without it they are skipped.
    #[arg(long)]
    signing_key: Option<PathBuf>,
    /// A configuration file for an external deployment (fixtures/conformance.example.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The reference stack's stores, when no target is given.
    #[cfg(feature = "reference")]
    #[arg(long, value_enum, default_value = "embedded")]
    store: StoreChoice,
    /// The level that gates the exit code, with those below it: core,
    /// strict or reference. Default: core for an external target, reference
    /// (everything) for the embedded reference stack.
    #[arg(long)]
    level: Option<String>,
    /// Only checks whose id starts with this (repeatable).
    #[arg(long)]
    only: Vec<String>,
    /// Only scenarios with this tag (repeatable).
    #[arg(long)]
    tag: Vec<String>,
    /// Scenarios run at once.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
    /// Generated client ids each property check tries.
    #[arg(long, default_value_t = 32)]
    cases: u32,
    /// The property checks' seed (printed by a failure), to reproduce it.
    #[arg(long, value_parser = parse_seed)]
    seed: Option<u64>,
    /// A JSON report of an earlier run: a check that passed there and fails
    /// now fails this run, whatever its level.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Keep the users, groups and clients the run made on the target (and
    /// list them) instead of deleting them at the end.
    #[arg(long)]
    keep_accounts: bool,
    /// Print the failures that do not gate the run in full too (by
    /// default they are listed after the verdict).
    #[arg(long)]
    all_failures: bool,
    /// Fail the run when a gated check was skipped (no --observe, no
    /// --signing-key, a MAY declined…): for a gate that must be complete.
    /// The summary says what was skipped and why either way.
    #[arg(long)]
    complete: bool,
    /// With --baseline: accept checks that passed there and are skipped or
    /// gone now (they are still listed).
    #[arg(long, requires = "baseline")]
    allow_skips: bool,
    /// Checks this deployment is known to fail (`"check.id" = "reason"`
    /// lines): their failures do not gate, and their passing does.
    #[arg(long)]
    expected_failures: Option<PathBuf>,
    /// Hold the answers against the snapshots in this folder (default: the
    /// reference's, committed in scenarios/snapshots).
    #[arg(long, conflicts_with = "update_snapshots")]
    snapshots: Option<PathBuf>,
    /// Rewrite the reference's committed snapshots from this run (the
    /// reference stack only).
    #[arg(long)]
    update_snapshots: bool,
    /// Write the JSON report here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the self-contained HTML report here.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Write the JUnit XML report here (one test case per check).
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write a short Markdown summary here (counts by level, the failed
    /// checks with their rule and broken hop), for a CI job summary or a
    /// merge-request comment.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// A folder of a team's own scenarios, added to the bundled ones
    /// (repeatable). The bundled scenarios and snapshots are embedded in the
    /// binary.
    #[arg(long)]
    scenarios: Vec<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(*args, None).await,
        Command::Snapshot { out, run: args } => run(*args, Some(SnapshotMode::Write(out))).await,
        #[cfg(feature = "reference")]
        Command::Serve { store } => serve(store).await,
        #[cfg(feature = "reference")]
        Command::AuthApi(config) => {
            reference_shared::http::init_tracing();
            match auth_api::Application::build(*config).await {
                Ok(app) => serve_service("auth-api", app.url(), app.run_until(stopped())).await,
                Err(e) => Err(HarnessError::Stack(format!("auth-api: {e:#}"))),
            }
        }
        #[cfg(feature = "reference")]
        Command::ChatApi(config) => {
            reference_shared::http::init_tracing();
            match chat_api::Application::build(*config).await {
                Ok(app) => serve_service("chat-api", app.url(), app.run_until(stopped())).await,
                Err(e) => Err(HarnessError::Stack(format!("chat-api: {e:#}"))),
            }
        }
        Command::List { scenarios } => list(&scenarios),
        Command::Rules { scenarios } => rules(&scenarios),
        Command::Diff { old, new } => diff(&old, &new),
        Command::Proxy {
            listen,
            upstream,
            cacert,
        } => proxy(&listen, &upstream, cacert.as_deref()).await,
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("conformance: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes one kind of report to a file.
type WriteReport = fn(&RunReport, &std::path::Path) -> std::io::Result<()>;

async fn run(args: RunArgs, mode: Option<SnapshotMode>) -> Result<u8, HarnessError> {
    let external = args.auth_url.is_some() || args.config.is_some();
    if args.update_snapshots && external {
        return Err(HarnessError::Config(
            "--update-snapshots rewrites the reference's snapshots: run it without a target (use `conformance snapshot --out DIR` for a deployment)".to_owned(),
        ));
    }
    let snapshots = match (mode, &args.snapshots) {
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
    };
    let level = match args.level.as_deref() {
        Some(l) => Level::parse(l).ok_or_else(|| {
            HarnessError::Config(format!("--level is core, strict or reference, not {l:?}"))
        })?,
        None if external => Level::Core,
        None => Level::Reference,
    };
    let mut _stack = None;
    let mut target = if let Some(path) = &args.config {
        let mut file = ConfigFile::load(path)?;
        if file.admin_token.is_none() {
            file.admin_token.clone_from(&args.admin_token);
        }
        file.into_target()?
    } else if let (Some(auth_url), Some(chat_url)) = (&args.auth_url, &args.chat_url) {
        let admin_token = args.admin_token.clone().ok_or_else(|| {
            HarnessError::Config(
                "an external target needs --admin-token, or --config with [accounts]".to_owned(),
            )
        })?;
        Target::at(auth_url, chat_url).with_admin_token(admin_token)
    } else {
        let (target, stack) = reference_target(&args).await?;
        _stack = Some(stack);
        target
    };
    if let Some(url) = &args.observe {
        target = target.with_recorder(url);
    }
    if let Some(path) = &args.cacert {
        target.trust_ca_file(path)?;
    }
    if let Some(path) = &args.signing_key {
        target = target.with_signing_key_file(path)?;
    }
    let mut harness = Harness::new(target)
        .level(level)
        .jobs(args.jobs)
        .properties(PropertyOptions {
            cases: args.cases,
            seed: args.seed.unwrap_or_else(|| PropertyOptions::default().seed),
        })
        .snapshots(snapshots)
        .keep_accounts(args.keep_accounts)
        .complete(args.complete);
    for prefix in args.only {
        harness = harness.only(prefix);
    }
    for tag in args.tag {
        harness = harness.tag(tag);
    }
    for dir in args.scenarios {
        harness = harness.scenarios(dir);
    }
    if let Some(path) = &args.expected_failures {
        harness = harness.expected_failures(path)?;
    }
    if let Some(path) = &args.baseline {
        harness = harness.baseline(path, args.allow_skips)?;
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
    let writers: [(&Option<PathBuf>, WriteReport); 4] = [
        (&args.json, report::write_json),
        (&args.html, report::write_html),
        (&args.junit, report::write_junit),
        (&args.markdown, report::write_markdown),
    ];
    for (path, write) in writers {
        if let Some(path) = path {
            write(&report, path)
                .map_err(|e| HarnessError::Config(format!("{}: {e}", path.display())))?;
        }
    }
    Ok(u8::try_from(report.exit_code()).unwrap_or(1))
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

#[cfg(feature = "reference")]
async fn serve(store: StoreChoice) -> Result<u8, HarnessError> {
    let seed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/seed.json");
    let stack = ReferenceStack::start(StackOptions {
        store: Some(store),
        seed: Some(seed.clone()),
        chat_client: Some((
            "chat-api-service".to_owned(),
            "dev-chat-api-secret".to_owned(),
        )),
        ..StackOptions::default()
    })
    .await?;
    let target = &stack.target;
    println!("auth-api: {}", target.auth_url);
    println!("chat-api: {}", target.chat_url);
    if let Some(admin) = &target.admin_token {
        println!("admin token: {}", admin.expose());
    }
    println!(
        "accounts: {} (development fixtures; see docs/reference-services.md)",
        seed.display()
    );
    println!("Ctrl-C stops both.");
    let _ = tokio::signal::ctrl_c().await;
    Ok(0)
}

#[cfg(feature = "reference")]
/// A reference service started on its own: its URL on the first line of
/// stdout, then it serves until `serving` ends (Ctrl-C).
async fn serve_service(
    name: &str,
    url: String,
    serving: impl Future<Output = std::io::Result<()>>,
) -> Result<u8, HarnessError> {
    println!("{name} listening on {url}");
    serving
        .await
        .map_err(|e| HarnessError::Stack(format!("{name}: {e}")))?;
    Ok(0)
}

/// Completes at Ctrl-C.
#[cfg(feature = "reference")]
async fn stopped() {
    let _ = tokio::signal::ctrl_c().await;
}

async fn proxy(
    listen: &str,
    upstream: &str,
    cacert: Option<&std::path::Path>,
) -> Result<u8, HarnessError> {
    let ca_pem = cacert
        .map(|path| {
            std::fs::read(path)
                .map_err(|e| HarnessError::Config(format!("--cacert {}: {e}", path.display())))
        })
        .transpose()?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| HarnessError::Config(format!("--listen {listen}: {e}")))?;
    let address = listener
        .local_addr()
        .map_err(|e| HarnessError::Config(e.to_string()))?;
    let recorder = std::sync::Arc::new(conformance::Recorder::default());
    let task = conformance::serve_proxy(listener, upstream, recorder, ca_pem.as_deref())
        .map_err(HarnessError::Config)?;
    // A proxy outlives whoever started it: a closed standard output (the
    // reader gone) must not stop it, so these lines ignore write errors.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "conformance proxy: http://{address} -> {upstream}");
    let _ = writeln!(
        out,
        "point the chat-api's auth-api URL here, and run with --observe http://{address}"
    );
    let _ = out.flush();
    tokio::select! {
        _ = task => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(0)
}

fn diff(old: &std::path::Path, new: &std::path::Path) -> Result<u8, HarnessError> {
    let before = gate::load_report(old)?;
    let after = gate::load_report(new)?;
    let diff = gate::diff(&before, &after);
    print!(
        "{}",
        gate::render_diff(
            &diff,
            &old.display().to_string(),
            &new.display().to_string()
        )
    );
    Ok(u8::from(
        !diff.regressions.is_empty() || !diff.lost.is_empty(),
    ))
}

/// A seed in decimal or `0x` hexadecimal, as failures print it.
fn parse_seed(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|e| format!("{text:?} is no seed: {e}"))
}

fn list(dirs: &[PathBuf]) -> Result<u8, HarnessError> {
    let scenarios = load(dirs)?;
    for (id, level, rule) in conformance::checks(&scenarios) {
        println!("{level:9} {id}  ({rule})");
    }
    Ok(0)
}

fn rules(dirs: &[PathBuf]) -> Result<u8, HarnessError> {
    let scenarios = load(dirs)?;
    let checks = conformance::checks(&scenarios);
    print!("{}", report::rules_matrix(&checks));
    Ok(0)
}
