//! A team's conformance test, as it would sit in the team's own repository:
//! start the services under test in containers, point the harness at them,
//! and fail `cargo test` with the harness's account of what broke.
//!
//! Here the services are the reference images (`docker-compose.yml`'s, made
//! by `docker build` or `scripts/build-local-images --services`); a team
//! puts its own images in their place. Image names come from the same
//! variables as the compose file's: `CONFORMANCE_AUTH_API_IMAGE`,
//! `CONFORMANCE_CHAT_API_IMAGE`, `CONFORMANCE_POSTGRES_IMAGE`,
//! `CONFORMANCE_MONGO_IMAGE`. Docker must answer.

use std::time::Duration;

use conformance::{Harness, Level, Target};
use testcontainers::core::{Healthcheck, IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ContainerRequest, GenericImage, ImageExt};

/// The services under test pass the contract at `strict`, every check of
/// it: the harness's recorder stands between the chat-api and the
/// auth-api, and it holds the auth-api's signing key, so no gated check
/// is skipped (`complete` would fail the run if one were).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_services_conform() {
    let deployment = Deployment::start("dev-chat-secret").await;
    let report = Harness::new(deployment.target().await)
        .level(Level::Strict)
        .complete(true)
        .run()
        .await
        .expect("the harness runs");
    report.assert_passed();
    assert_eq!(
        report.gated_skips(),
        0,
        "nothing gated was skipped: {:?}",
        report.coverage_line()
    );
}

/// The same test against a chat-api given a wrong client secret (it cannot
/// get a service token, so it cannot check membership): the assertion
/// fails, and its message says which checks broke and how to reproduce them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misconfigured_chat_api_fails_the_test() {
    let deployment = Deployment::start("not-the-registered-secret").await;
    let report = Harness::new(deployment.target().await)
        .level(Level::Strict)
        .tag("chat")
        .run()
        .await
        .expect("the harness runs");
    let message = std::panic::catch_unwind(|| report.assert_passed())
        .expect_err("a chat-api without a service token does not conform");
    let message = message
        .downcast_ref::<String>()
        .expect("a formatted message");
    assert!(
        message.contains("FAILED core.") && message.contains("reproduce: curl "),
        "{message}"
    );
}

/// PostgreSQL, MongoDB, the auth-api and the chat-api on a network of
/// their own; dropping it removes them.
struct Deployment {
    auth: ContainerAsync<GenericImage>,
    chat: ContainerAsync<GenericImage>,
    proxy: ContainerAsync<GenericImage>,
    admin_token: String,
    _stores: [ContainerAsync<GenericImage>; 2],
}

impl Deployment {
    /// The chat-api is registered at the auth-api with one secret and told
    /// `chat_secret`.
    async fn start(chat_secret: &str) -> Self {
        let run = uuid::Uuid::new_v4().simple().to_string();
        let run = &run[..12];
        let network = format!("conformance-example-{run}");
        let name = |service: &str| format!("{service}-{run}");
        let admin_token = uuid::Uuid::new_v4().simple().to_string();

        let postgres = image("CONFORMANCE_POSTGRES_IMAGE", "postgres:17", 5432)
            .with_env_var("POSTGRES_PASSWORD", "example")
            .with_health_check(healthy(
                "pg_isready -h 127.0.0.1 -U postgres || /usr/lib/postgresql/*/bin/pg_isready -h 127.0.0.1 -U postgres",
            ));
        let mongo = image("CONFORMANCE_MONGO_IMAGE", "mongo:8", 27017)
            .with_health_check(healthy("bash -c ':> /dev/tcp/127.0.0.1/27017'"));
        let (postgres_name, mongo_name) = (name("postgres"), name("mongo"));
        let (postgres, mongo) = tokio::join!(
            start(postgres, &network, &postgres_name),
            start(mongo, &network, &mongo_name)
        );

        let seed = serde_json::json!({
            "users": [],
            "groups": [],
            "clients": [{
                "client_id": "chat-api-service",
                "client_secret": "dev-chat-secret",
                "scopes": ["groups:read"]
            }]
        });
        let auth_url = format!("http://{}:8080", name("auth-api"));
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let auth = image(
            "CONFORMANCE_AUTH_API_IMAGE",
            "conformance/auth-api:latest",
            8080,
        )
        .with_env_var(
            "AUTH_API_DATABASE_URL",
            format!("postgres://postgres:example@{postgres_name}:5432/postgres"),
        )
        .with_env_var("AUTH_API_ISSUER", &auth_url)
        .with_env_var("AUTH_API_ADMIN_TOKEN", &admin_token)
        .with_env_var("AUTH_API_SIGNING_KEY", "/etc/auth-api/signing-key.pem")
        .with_env_var("AUTH_API_SEED", "/etc/auth-api/seed.json")
        .with_copy_to(
            "/etc/auth-api/signing-key.pem",
            fixtures.join("keys/dev-ed25519.pem"),
        )
        .with_copy_to("/etc/auth-api/seed.json", seed.to_string().into_bytes())
        .with_health_check(ready(8080));
        let auth = start(auth, &network, &name("auth-api")).await;

        // The harness's recorder between the chat-api and the auth-api
        // (the harness's own image, `conformance proxy`).
        let proxy = image(
            "CONFORMANCE_HARNESS_IMAGE",
            "conformance/conformance:latest",
            9090,
        )
        .with_cmd([
            "proxy".to_owned(),
            "--listen=0.0.0.0:9090".to_owned(),
            format!("--upstream={auth_url}"),
        ])
        .with_health_check(ready(9090));
        let proxy = start(proxy, &network, &name("proxy")).await;

        let chat = image(
            "CONFORMANCE_CHAT_API_IMAGE",
            "conformance/chat-api:latest",
            8081,
        )
        .with_env_var(
            "CHAT_API_MONGO_URI",
            format!("mongodb://{mongo_name}:27017/?retryWrites=false&directConnection=true"),
        )
        // Through the recorder: the chat-api takes the issuer its tokens
        // carry from the auth-api's metadata, whatever address it uses.
        .with_env_var(
            "CHAT_API_AUTH_URL",
            format!("http://{}:9090", name("proxy")),
        )
        .with_env_var("CHAT_API_CLIENT_ID", "chat-api-service")
        .with_env_var("CHAT_API_CLIENT_SECRET", chat_secret)
        .with_health_check(ready(8081));
        let chat = start(chat, &network, &name("chat-api")).await;
        Self {
            auth,
            chat,
            proxy,
            admin_token,
            _stores: [postgres, mongo],
        }
    }

    /// The services as the harness reaches them from this process, with
    /// the admin token it provisions its accounts with, the recorder
    /// between them and the auth-api's signing key.
    async fn target(&self) -> Target {
        let key = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/keys/dev-ed25519.pem");
        Target::at(
            &published(&self.auth, 8080).await,
            &published(&self.chat, 8081).await,
        )
        .with_admin_token(&self.admin_token)
        .with_recorder(&published(&self.proxy, 9090).await)
        .with_signing_key_file(&key)
        .expect("the development signing key")
    }
}

/// The URL of a container's port as published on this host.
async fn published(container: &ContainerAsync<GenericImage>, port: u16) -> String {
    let host = container.get_host().await.expect("the container's host");
    let port = container
        .get_host_port_ipv4(port)
        .await
        .expect("the published port");
    format!("http://{host}:{port}")
}

/// The image named by `variable` (`name:tag`), else `default`, with its port.
fn image(variable: &str, default: &str, port: u16) -> ContainerRequest<GenericImage> {
    let reference = std::env::var(variable)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned());
    let (name, tag) = match reference.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name.to_owned(), tag.to_owned()),
        _ => (reference.clone(), "latest".to_owned()),
    };
    GenericImage::new(name, tag)
        .with_exposed_port(port.tcp())
        .with_wait_for(WaitFor::healthcheck())
        .with_startup_timeout(Duration::from_secs(120))
}

/// A health check that runs this shell command every half second.
fn healthy(command: &str) -> Healthcheck {
    every_half_second(Healthcheck::cmd_shell(command))
}

fn every_half_second(check: Healthcheck) -> Healthcheck {
    check
        .with_interval(Duration::from_millis(500))
        .with_timeout(Duration::from_secs(3))
        .with_retries(240)
}

/// Healthy once the service's `/ready` answers 200 (the images have bash,
/// not curl).
fn ready(port: u16) -> Healthcheck {
    let probe = format!(
        "exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET /ready HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"
    );
    every_half_second(Healthcheck::cmd(["bash", "-c", probe.as_str()]))
}

async fn start(
    request: ContainerRequest<GenericImage>,
    network: &str,
    name: &str,
) -> ContainerAsync<GenericImage> {
    request
        .with_network(network)
        .with_container_name(name)
        .start()
        .await
        .unwrap_or_else(|e| {
            panic!("starting {name}: {e} (is Docker running, and is the image built?)")
        })
}
