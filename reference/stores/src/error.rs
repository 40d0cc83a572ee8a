use std::time::Duration;

/// Why no database could be handed out.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Neither a URL nor a Docker daemon: the message says how to get either.
    #[error("{0}")]
    NoServer(Box<NoServer>),
    /// An environment variable holds something unusable.
    #[error("{var} is not usable: {reason}")]
    BadVariable {
        /// The variable's name.
        var: &'static str,
        /// What is wrong with it (never its value, which may hold a password).
        reason: String,
    },
    /// Docker answered but the container could not be started.
    #[error(
        "could not start a container from {image}: {reason}. If the image cannot be pulled here, \
         run `scripts/build-local-images` and set the variables it prints"
    )]
    Container {
        /// The image's name.
        image: String,
        /// The daemon's or testcontainers' error.
        reason: String,
    },
    /// The shared container of this process could not be started: the
    /// first attempt's error, as it was said then.
    #[error("{0}")]
    SharedNotStarted(String),
    /// The server did not accept connections in time.
    #[error("the {kind} server did not become ready within {waited:?}: {last_error}")]
    NotReady {
        /// `PostgreSQL` or `MongoDB`.
        kind: &'static str,
        /// How long it was given.
        waited: Duration,
        /// The last connection error seen.
        last_error: String,
    },
    /// A PostgreSQL statement failed.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] sqlx::Error),
    /// A MongoDB command failed.
    #[error("MongoDB: {0}")]
    Mongo(#[from] mongodb::error::Error),
}

/// What was looked for and not found, and how to provide it.
#[derive(Debug, thiserror::Error)]
#[error(
    "no {kind} server for the tests: set {url_var} to a running server \
     (e.g. {example}), or start a Docker daemon so that testcontainers can run \
     the image in {image_var} (default {default_image}; where no registry is \
     reachable, `scripts/build-local-images` builds one and prints the variables to set). \
     Docker was looked for at {docker_host}: {docker_error}"
)]
pub struct NoServer {
    /// `PostgreSQL` or `MongoDB`.
    pub kind: &'static str,
    /// The environment variable that takes a server's URL.
    pub url_var: &'static str,
    /// An example URL.
    pub example: &'static str,
    /// The environment variable that names the image.
    pub image_var: &'static str,
    /// The image used when that variable is unset.
    pub default_image: &'static str,
    /// Where the Docker daemon was looked for.
    pub docker_host: String,
    /// What happened there.
    pub docker_error: String,
}
