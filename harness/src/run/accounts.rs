//! The run's accounts and tokens: user and service tokens fetched and kept,
//! the key set, the attack tokens.

use crate::run::client::{self, Answer};
use crate::run::provision::{self};
use crate::sources::scenario::Vars;

use super::{Failure, Held, Runner, form_encode};

impl Runner {
    pub(super) async fn attack_tokens(&self) -> Vars {
        let Ok(token) = self.user_token("alice").await else {
            return Vars::new();
        };
        let jwks = match client::send_retrying(
            self.client
                .http()
                .get(format!("{}/.well-known/jwks.json", self.target.auth_url)),
        )
        .await
        {
            Ok(response) => response
                .json::<serde_json::Value>()
                .await
                .unwrap_or_default(),
            Err(_) => return Vars::new(),
        };
        crate::sources::attacks::attack_vars(&token, &jwks, self.target.signing_key.as_ref())
            .unwrap_or_default()
    }

    pub(super) fn client(&self, name: &str) -> Result<&provision::ClientAccount, Failure> {
        self.accounts
            .clients
            .get(name)
            .ok_or_else(|| Failure::plain(format!("no client {name} among the accounts")))
    }

    pub(super) fn basic(&self, name: &str) -> Result<String, Failure> {
        let client = self.client(name)?;
        let value = reference_shared::form::basic_authorization(&client.id, client.secret.expose());
        self.client
            .secrets()
            .add(&value, &format!("Basic ${}_BASIC", name.to_uppercase()));
        Ok(value)
    }

    /// Registers the secrets an answer hands out (a client's secret, a
    /// token), so that no report or snapshot shows them.
    pub(super) fn keep_secret(&self, answer: &Answer) {
        self.client.secrets().add_handed_out(answer.json.as_ref());
    }

    /// The auth-api's key set, fetched now (keys rotate), if it answers one.
    pub(super) async fn jwks(&self) -> Option<serde_json::Value> {
        let url = format!("{}/.well-known/jwks.json", self.target.auth_url);
        let response = client::send_retrying(self.client.http().get(url))
            .await
            .ok()?;
        response.json().await.ok()
    }

    pub(super) async fn user_token(&self, name: &str) -> Result<String, Failure> {
        let key = format!("user:{name}");
        let mut tokens = self.tokens.lock().await;
        if let Some(token) = tokens.get(&key).and_then(Held::fresh) {
            return Ok(token.to_owned());
        }
        let user = self
            .accounts
            .users
            .get(name)
            .ok_or_else(|| Failure::plain(format!("no user {name} among the accounts")))?;
        let token = provision::login(
            self.client.http(),
            &self.target.auth_url,
            &user.email,
            user.password.expose(),
        )
        .await
        .map_err(|e| Failure::plain(format!("cannot log in as {name}: {e}")))?;
        self.client
            .secrets()
            .add(&token, &format!("${}_TOKEN", name.to_uppercase()));
        tokens.insert(key, Held::new(&token));
        Ok(token)
    }

    pub(super) async fn service_token(
        &self,
        name: &str,
        scope: Option<&str>,
    ) -> Result<String, Failure> {
        let key = format!("client:{name}:{}", scope.unwrap_or(""));
        let mut tokens = self.tokens.lock().await;
        if let Some(token) = tokens.get(&key).and_then(Held::fresh) {
            return Ok(token.to_owned());
        }
        let mut form = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
        if let Some(scope) = scope {
            form.push(("scope".to_owned(), scope.to_owned()));
        }
        let response = client::send_retrying(
            self.client
                .http()
                .post(format!("{}/oauth/token", self.target.auth_url))
                .header("Authorization", self.basic(name)?)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form_encode(&form)),
        )
        .await
        .map_err(|e| {
            Failure::plain(format!(
                "cannot get a service token for {name}: {}",
                e.without_url()
            ))
        })?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| {
                Failure::plain(format!(
                    "cannot get a service token for {name}: the token endpoint answered {status}"
                ))
            })?
            .to_owned();
        self.client
            .secrets()
            .add(&token, &format!("${}_TOKEN", name.to_uppercase()));
        tokens.insert(key, Held::new(&token));
        Ok(token)
    }
}
