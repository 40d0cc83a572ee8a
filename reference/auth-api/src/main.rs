//! The auth-api binary: reads the configuration, sets up logging, serves.

use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    reference_shared::http::init_tracing();
    let config = auth_api::Config::parse();
    let app = auth_api::Application::build(config).await?;
    tracing::info!(url = %app.url(), "auth-api listening");
    app.run_until(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
