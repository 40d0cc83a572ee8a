//! The processes the performance benchmark starts, one binary for all:
//! the reference auth-api and chat-api (the code their own binaries run,
//! with the same flags and environment) and the bare baseline server.
//!
//! `cargo bench -p reference-bench` runs the benchmark (see
//! `benches/performance.rs`); this binary is what it starts.

mod bare;

use clap::Parser as _;

#[derive(clap::Parser)]
#[command(name = "reference-bench")]
enum Serve {
    /// The reference auth-api.
    AuthApi(auth_api::Config),
    /// The reference chat-api.
    ChatApi(chat_api::Config),
    /// The bare server: only the essential work of each measured endpoint.
    Bare(bare::Config),
}

/// Prints the URL on the first line of standard output, where the
/// benchmark reads it.
fn announce(url: &str) {
    use std::io::Write as _;
    println!("listening on {url}");
    let _ = std::io::stdout().flush();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let stopped = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match Serve::parse() {
        Serve::AuthApi(config) => {
            reference_shared::http::init_tracing();
            let app = auth_api::Application::build(config).await?;
            announce(&app.url());
            app.run_until(stopped).await?;
        }
        Serve::ChatApi(config) => {
            reference_shared::http::init_tracing();
            let app = chat_api::Application::build(config).await?;
            announce(&app.url());
            app.run_until(stopped).await?;
        }
        Serve::Bare(config) => {
            let listener = tokio::net::TcpListener::bind(config.listen).await?;
            let router = bare::router(&config).await?;
            announce(&format!("http://{}", listener.local_addr()?));
            axum::serve(listener, router)
                .with_graceful_shutdown(stopped)
                .await?;
        }
    }
    Ok(())
}
