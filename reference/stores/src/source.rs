use crate::docker::DockerEndpoint;
use crate::error::{NoServer, StoreError};

/// The PostgreSQL image used when `CONFORMANCE_POSTGRES_IMAGE` is unset.
pub const DEFAULT_POSTGRES_IMAGE: &str = "postgres:17";
/// The MongoDB image used when `CONFORMANCE_MONGO_IMAGE` is unset.
pub const DEFAULT_MONGO_IMAGE: &str = "mongo:8";

/// The two database engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    Postgres,
    Mongo,
}

/// What a database kind is called and which variables configure it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kind {
    pub engine: Engine,
    pub name: &'static str,
    pub url_var: &'static str,
    pub image_var: &'static str,
    pub default_image: &'static str,
    pub example: &'static str,
}

pub(crate) const POSTGRES: Kind = Kind {
    engine: Engine::Postgres,
    name: "PostgreSQL",
    url_var: "CONFORMANCE_POSTGRES_URL",
    image_var: "CONFORMANCE_POSTGRES_IMAGE",
    default_image: DEFAULT_POSTGRES_IMAGE,
    example: "postgres://postgres:postgres@127.0.0.1:5432/postgres",
};

pub(crate) const MONGO: Kind = Kind {
    engine: Engine::Mongo,
    name: "MongoDB",
    url_var: "CONFORMANCE_MONGO_URL",
    image_var: "CONFORMANCE_MONGO_IMAGE",
    default_image: DEFAULT_MONGO_IMAGE,
    example: "mongodb://127.0.0.1:27017/?retryWrites=false",
};

/// Where a kind's server comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// An existing server, by URL.
    Url(String),
    /// A container of this image.
    Container { image: String },
}

impl Kind {
    /// Reads the environment and, when no URL is set, asks Docker whether it
    /// is there. Fails within seconds when neither is.
    pub(crate) fn source(self) -> Result<Source, StoreError> {
        if let Some(url) = non_empty_var(self.url_var) {
            return Ok(Source::Url(url));
        }
        let docker = DockerEndpoint::from_env();
        match docker.ping() {
            Ok(()) => Ok(Source::Container {
                image: non_empty_var(self.image_var)
                    .unwrap_or_else(|| self.default_image.to_owned()),
            }),
            Err(e) => Err(StoreError::NoServer(Box::new(NoServer {
                kind: self.name,
                url_var: self.url_var,
                example: self.example,
                image_var: self.image_var,
                default_image: self.default_image,
                docker_host: docker.to_string(),
                docker_error: e.to_string(),
            }))),
        }
    }
}

fn non_empty_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Splits `name:tag` the way Docker does (a registry port is not a tag).
pub(crate) fn split_image(image: &str) -> (&str, &str) {
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (image, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::split_image;

    #[test]
    fn image_names_split_at_the_tag_not_at_a_registry_port() {
        assert_eq!(split_image("postgres:17"), ("postgres", "17"));
        assert_eq!(split_image("mongo"), ("mongo", "latest"));
        assert_eq!(
            split_image("registry.local:5000/team/postgres"),
            ("registry.local:5000/team/postgres", "latest")
        );
        assert_eq!(
            split_image("registry.local:5000/postgres:16"),
            ("registry.local:5000/postgres", "16")
        );
    }
}
