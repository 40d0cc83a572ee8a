//! What the harness checks: two base URLs, how to get accounts there, and
//! what else the harness can do with it (capabilities).

use std::collections::BTreeSet;
use std::path::Path;

use reference_shared::Secret;
use serde::Deserialize;

use crate::error::HarnessError;
use crate::run::observe::Observer;
use crate::sources::scenario::Level;

/// A deployment to check.
#[derive(Debug, Clone)]
pub struct Target {
    /// The auth-api's base URL.
    pub auth_url: String,
    /// The chat-api's base URL.
    pub chat_url: String,
    /// The admin token, when the harness may provision its own accounts.
    pub admin_token: Option<Secret>,
    /// Accounts from a configuration file, when it may not.
    pub accounts: Option<AccountsConfig>,
    /// The recorder between the chat-api and the auth-api, when there is one.
    pub observer: Option<Observer>,
    /// The recorder that takes fault orders (`conformance proxy`, or the
    /// reference stack's own), when there is one between the services.
    pub faults: Option<String>,
    /// The target's token signing key, when the harness holds it (the
    /// reference's development key, or `--signing-key`).
    pub signing_key: Option<reference_shared::SigningKey>,
    /// CA certificates (PEM) to trust besides the platform's, for a
    /// deployment behind a private CA (`--cacert`).
    pub ca_pem: Option<Vec<u8>>,
    /// Whether this is the reference stack the harness started itself,
    /// which owes the reference's own choices too.
    pub reference: bool,
}

impl Target {
    /// A deployment at these URLs, with nothing else known yet.
    pub fn at(auth_url: &str, chat_url: &str) -> Self {
        Self {
            auth_url: auth_url.trim_end_matches('/').to_owned(),
            chat_url: chat_url.trim_end_matches('/').to_owned(),
            admin_token: None,
            accounts: None,
            observer: None,
            faults: None,
            signing_key: None,
            ca_pem: None,
            reference: false,
        }
    }

    /// The level a run against this target is gated at unless told
    /// otherwise: core for a deployment (the contract's MUSTs), reference
    /// for the reference stack the harness started (everything). Every
    /// default gate is this one.
    pub fn default_gate(&self) -> Level {
        if self.reference {
            Level::Reference
        } else {
            Level::Core
        }
    }

    /// The deployment a configuration file describes (see
    /// `fixtures/conformance.example.toml`).
    pub fn from_config(path: &Path) -> Result<Self, HarnessError> {
        ConfigFile::load(path)?.into_target()
    }

    /// This target, with the admin token the harness provisions its
    /// accounts with (and deletes them with afterwards).
    #[must_use]
    pub fn with_admin_token(mut self, token: impl Into<String>) -> Self {
        self.admin_token = Some(Secret::new(token.into()));
        self
    }

    /// This target, with `conformance proxy` (its base URL) standing
    /// between the chat-api and the auth-api: the checks that observe
    /// their calls, and those that order the auth-api to fail, can run.
    #[must_use]
    pub fn with_recorder(mut self, url: &str) -> Self {
        let url = url.trim_end_matches('/').to_owned();
        self.observer = Some(Observer::Remote(url.clone()));
        self.faults = Some(url);
        self
    }

    /// This target, with the key its auth-api signs tokens with (PKCS#8
    /// PEM), for the attacks that forge validly signed tokens.
    pub fn with_signing_key_file(mut self, path: &Path) -> Result<Self, HarnessError> {
        let key = reference_shared::SigningKey::from_file(path)
            .map_err(|e| HarnessError::Config(format!("signing key {}: {e}", path.display())))?;
        self.signing_key = Some(key);
        Ok(self)
    }

    /// Trusts the CA certificates in this PEM file too.
    pub fn trust_ca_file(&mut self, path: &Path) -> Result<(), HarnessError> {
        let pem = std::fs::read(path)
            .map_err(|e| HarnessError::Config(format!("--cacert {}: {e}", path.display())))?;
        crate::run::client::ca_certificates(Some(&pem))
            .map_err(|e| HarnessError::Config(format!("--cacert {}: {e}", path.display())))?;
        self.ca_pem = Some(pem);
        Ok(())
    }
    /// What this target lets the harness do, for scenarios' `needs`.
    pub fn capabilities(&self) -> BTreeSet<&'static str> {
        let mut caps = BTreeSet::new();
        if self.admin_token.is_some() {
            caps.insert("admin");
            caps.insert("uuid-client");
        }
        if self
            .accounts
            .as_ref()
            .is_some_and(|a| a.uuid_client.is_some())
        {
            caps.insert("uuid-client");
        }
        if self.observer.is_some() {
            caps.insert("observation");
        }
        if self.faults.is_some() {
            caps.insert("fault-injection");
        }
        if self.signing_key.is_some() {
            caps.insert("signing-key");
        }
        caps
    }
}

/// A configuration file for an external deployment (`--config`); see
/// `fixtures/conformance.example.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The auth-api's base URL.
    pub auth_url: String,
    /// The chat-api's base URL.
    pub chat_url: String,
    /// The admin token; `CONFORMANCE_ADMIN_TOKEN` is read when absent.
    pub admin_token: Option<String>,
    /// Accounts, when there is no admin token.
    pub accounts: Option<AccountsConfig>,
    /// A PEM file of CA certificates to trust besides the platform's.
    pub cacert: Option<std::path::PathBuf>,
}

/// Accounts the operator made for the harness.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsConfig {
    /// A user who is a member of `group`.
    pub alice: UserConfig,
    /// A user who is not.
    pub bob: UserConfig,
    /// The group.
    pub group: GroupConfig,
    /// A client with `groups:read`.
    pub reader: ClientConfig,
    /// A client without it.
    pub blind: ClientConfig,
    /// A client whose id is a UUID (strict checks).
    pub uuid_client: Option<ClientConfig>,
}

/// A user's credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
}

/// A group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Its id.
    pub id: String,
    /// Its `org_id`.
    pub org_id: String,
}

/// A client's credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
}

impl ConfigFile {
    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<Self, HarnessError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| HarnessError::Config(format!("{}: {e}", path.display())))?;
        toml::from_str(&text)
            .map_err(|e| HarnessError::Config(format!("{}: {}", path.display(), e.message())))
    }

    /// The target it describes.
    pub fn into_target(self) -> Result<Target, HarnessError> {
        let admin_token = self
            .admin_token
            .or_else(|| {
                std::env::var("CONFORMANCE_ADMIN_TOKEN")
                    .ok()
                    .filter(|t| !t.is_empty())
            })
            .map(Secret::new);
        if admin_token.is_none() && self.accounts.is_none() {
            return Err(HarnessError::Config(
                "give an admin token (admin_token, CONFORMANCE_ADMIN_TOKEN or --admin-token) or [accounts]".to_owned(),
            ));
        }
        let mut target = Target {
            admin_token,
            accounts: self.accounts,
            ..Target::at(&self.auth_url, &self.chat_url)
        };
        if let Some(path) = &self.cacert {
            target.trust_ca_file(path)?;
        }
        Ok(target)
    }
}

/// Checks that the target answers at all, within seconds.
pub(crate) async fn preflight(http: &reqwest::Client, target: &Target) -> Result<(), HarnessError> {
    for (name, url) in [
        ("auth-api", &target.auth_url),
        ("chat-api", &target.chat_url),
    ] {
        let probe = crate::run::client::send_retrying(
            http.get(format!("{url}/health"))
                .timeout(std::time::Duration::from_secs(5)),
        )
        .await;
        if let Err(e) = probe {
            let why = if e.is_timeout() {
                "no answer within 5 s".to_owned()
            } else {
                crate::run::client::root_cause(&e)
            };
            return Err(HarnessError::Unreachable(format!(
                "the {name} at {url}: {why}"
            )));
        }
    }
    Ok(())
}
