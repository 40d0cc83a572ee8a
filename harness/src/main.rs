//! The `conformance` command line: `run`, `serve`, `list`.

#![warn(clippy::too_many_lines)]

mod cli {
    //! The commands that take more than a few lines.
    pub mod run;
}

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cli::run::{RunArgs, run};
use conformance::gate;
use conformance::scenario::load;
use conformance::{HarnessError, SnapshotMode, report};
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
    /// For a team that owns only the chat-api: runs the reference auth-api
    /// with a recorder in front of it, registers a client for the chat-api,
    /// prints the chat-api's settings and the `run` command to use once it
    /// is up, until Ctrl-C.
    #[cfg(feature = "reference")]
    ServeAuth,
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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(*args, None).await,
        Command::Snapshot { out, run: args } => run(*args, Some(SnapshotMode::Write(out))).await,
        #[cfg(feature = "reference")]
        Command::Serve { store } => serve(store).await,
        #[cfg(feature = "reference")]
        Command::ServeAuth => serve_auth().await,
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

/// The reference auth-api for a chat-api of a team's own.
#[cfg(feature = "reference")]
async fn serve_auth() -> Result<u8, HarnessError> {
    let auth = conformance::ReferenceAuth::start().await?;
    let mut out = std::io::stdout();
    let _ = write!(out, "{}", auth.settings());
    let _ = writeln!(
        out,
        "Start your chat-api with these, then:\n  conformance run --auth-url {} --chat-url YOUR_CHAT_API --admin-token {} --observe {}\n(add --signing-key fixtures/keys/dev-ed25519.pem from the repository for the forged-token attacks). Ctrl-C stops it.",
        auth.auth_url,
        auth.admin_token.expose(),
        auth.recorder_url
    );
    let _ = out.flush();
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
