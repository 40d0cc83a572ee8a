//! One PostgreSQL and one MongoDB container per process, started on first use
//! and shared by every database handed out.
//!
//! They are started on a runtime of their own: `#[tokio::test]` gives each
//! test a runtime that ends with the test, and the container's Docker client
//! must outlive the test that happened to start it.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use testcontainers::core::IntoContainerPort;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerRequest, GenericImage, ImageExt};
use tokio::runtime::Runtime;
use tokio::sync::OnceCell;

use crate::docker;
use crate::error::StoreError;
use crate::source::{self, Engine, Kind};

/// Label on every container this crate starts, so that a sweep can find the
/// ones a killed process left behind (`.ci/run` removes those whose
/// `org.conformance.stores.pid` is no longer running).
pub(crate) const LABEL: &str = "org.conformance.stores";

const STARTUP: Duration = Duration::from_secs(120);
const READY: Duration = Duration::from_secs(60);

/// Host and port of a running shared server.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub host: String,
    pub port: u16,
}

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("reference-stores")
            .enable_all()
            .build()
            .expect("a tokio runtime for the shared containers")
    })
}

/// The shared container for `kind`, started on first call. A failure is
/// remembered, so every later test fails at once with the same reason.
pub(crate) async fn shared(kind: Kind, image: &str) -> Result<Endpoint, StoreError> {
    static POSTGRES: OnceCell<Result<Endpoint, String>> = OnceCell::const_new();
    static MONGO: OnceCell<Result<Endpoint, String>> = OnceCell::const_new();
    let cell = match kind.engine {
        Engine::Postgres => &POSTGRES,
        Engine::Mongo => &MONGO,
    };
    let image_owned = image.to_owned();
    let result = cell
        .get_or_init(|| async move {
            let task = runtime().spawn(start(kind, image_owned));
            match task.await {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(e) => Err(format!("the start-up task failed: {e}")),
            }
        })
        .await;
    result.clone().map_err(StoreError::SharedNotStarted)
}

/// The password of this process's PostgreSQL container, random so that
/// nothing else on the machine can guess it.
pub(crate) fn postgres_password() -> &'static str {
    static PASSWORD: OnceLock<String> = OnceLock::new();
    PASSWORD.get_or_init(|| uuid::Uuid::new_v4().simple().to_string())
}

async fn start(kind: Kind, image: String) -> Result<Endpoint, StoreError> {
    let (name, tag) = source::split_image(&image);
    let (port, request): (u16, ContainerRequest<GenericImage>) = match kind.engine {
        Engine::Postgres => (
            5432,
            GenericImage::new(name, tag)
                .with_exposed_port(5432.tcp())
                .with_env_var("POSTGRES_PASSWORD", postgres_password())
                // Durability buys nothing in a throw-away test server.
                .with_cmd([
                    "postgres",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=500",
                ]),
        ),
        Engine::Mongo => (
            27017,
            GenericImage::new(name, tag)
                .with_exposed_port(27017.tcp())
                .into(),
        ),
    };
    let container = request
        // Named, so that its address can be looked up (`default` is not a
        // network name every daemon resolves).
        .with_network("bridge")
        .with_label(LABEL, "1")
        .with_label(format!("{LABEL}.pid"), std::process::id().to_string())
        .with_startup_timeout(STARTUP)
        .start()
        .await
        .map_err(|e| StoreError::Container {
            image: image.clone(),
            reason: e.to_string(),
        })?;
    docker::remove_at_exit(container.id().to_owned());
    let container_error = |e: testcontainers::TestcontainersError| StoreError::Container {
        image: image.clone(),
        reason: e.to_string(),
    };
    let host = container
        .get_host()
        .await
        .map_err(container_error)?
        .to_string();
    let mapped = container
        .get_host_port_ipv4(port)
        .await
        .map_err(container_error)?;
    let published = Endpoint { host, port: mapped };
    let ready = wait_until_ready(kind, &published).await;
    let endpoint = match ready {
        Ok(()) => direct_route(&container, port).await.unwrap_or(published),
        Err(_) => published,
    };
    // Removal happens at exit through `docker::remove_at_exit`; dropping the
    // handle here would remove the container under the tests' feet.
    std::mem::forget(container);
    ready.map(|()| endpoint)
}

/// The container's own address on Docker's bridge, when this machine
/// reaches it (a Linux host does; Docker Desktop does not): connections
/// then go through the kernel alone, not through the published port's
/// userland proxy, which on a 2-core machine took as much CPU per query as
/// the database itself.
async fn direct_route<I: testcontainers::Image>(
    container: &testcontainers::ContainerAsync<I>,
    port: u16,
) -> Option<Endpoint> {
    let ip = container.get_bridge_ip_address().await.ok()?;
    let reached = tokio::time::timeout(
        Duration::from_secs(1),
        tokio::net::TcpStream::connect((ip, port)),
    )
    .await;
    matches!(reached, Ok(Ok(_))).then(|| Endpoint {
        host: ip.to_string(),
        port,
    })
}

/// Waits until the server accepts a real session, not just a TCP connection:
/// the official PostgreSQL image restarts once after initialising.
async fn wait_until_ready(kind: Kind, endpoint: &Endpoint) -> Result<(), StoreError> {
    let started = Instant::now();
    loop {
        let attempt = match kind.engine {
            Engine::Postgres => {
                crate::postgres::ping(&crate::postgres::container_admin_url(endpoint)).await
            }
            Engine::Mongo => crate::mongo::ping(&crate::mongo::container_uri(endpoint)).await,
        }
        .map_err(|e| e.to_string());
        match attempt {
            Ok(()) => return Ok(()),
            Err(last_error) if started.elapsed() > READY => {
                return Err(StoreError::NotReady {
                    kind: kind.name,
                    waited: READY,
                    last_error,
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}
