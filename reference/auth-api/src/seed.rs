//! Seeding from a fixture file, so that a demo stack starts ready to use.

use std::path::Path;

use reference_shared::ClientId;
use serde::Deserialize;
use uuid::Uuid;

use crate::domain::{Email, GroupName, Password};
use crate::error::ApiError;
use crate::routes::{create_group, create_user_record, parse_scopes, register_client};
use crate::state::AppState;
use crate::store::{Role, StoreError};

/// A seed file: users, clients, groups with their members by email.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    #[serde(default)]
    users: Vec<SeedUser>,
    #[serde(default)]
    clients: Vec<SeedClient>,
    #[serde(default)]
    groups: Vec<SeedGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedUser {
    email: String,
    password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedClient {
    client_id: String,
    client_secret: String,
    scopes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedGroup {
    id: Uuid,
    name: String,
    org_id: Uuid,
    owner: String,
    #[serde(default)]
    members: Vec<String>,
}

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The file could not be read or parsed.
    #[error("seed file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A value in the file is invalid or storing it failed.
    #[error("seeding {what}: {reason}")]
    Apply {
        /// Which entry.
        what: String,
        /// What went wrong.
        reason: String,
    },
}

impl Seed {
    /// Reads a seed file.
    pub fn load(path: &Path) -> Result<Self, SeedError> {
        let file = |reason: String| SeedError::File {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| file(e.to_string()))
    }

    /// Creates what the file lists. Users, clients and groups (by their id in
    /// the file) that exist already are kept as they are, so a seed can be
    /// applied to the same database at every start.
    pub async fn apply(&self, state: &AppState) -> Result<(), SeedError> {
        for user in &self.users {
            let what = || format!("user {}", user.email);
            let email = Email::parse(&user.email).map_err(|reason| apply_error(what(), reason))?;
            let password =
                Password::parse(&user.password).map_err(|reason| apply_error(what(), reason))?;
            match create_user_record(state, email, &password).await {
                Ok(_) | Err(ApiError::Conflict(_)) => {}
                Err(e) => return Err(apply_error(what(), e.to_string())),
            }
        }
        for client in &self.clients {
            let what = || format!("client {}", client.client_id);
            let id = ClientId::parse(&client.client_id)
                .map_err(|e| apply_error(what(), e.to_string()))?;
            let scopes =
                parse_scopes(&client.scopes).map_err(|e| apply_error(what(), e.to_string()))?;
            match register_client(state, &id, &client.client_secret, &scopes).await {
                Ok(()) | Err(ApiError::Conflict(_)) => {}
                Err(e) => return Err(apply_error(what(), e.to_string())),
            }
        }
        for group in &self.groups {
            self.apply_group(state, group)
                .await
                .map_err(|e| apply_error(format!("group {}", group.name), e.to_string()))?;
        }
        Ok(())
    }

    async fn apply_group(&self, state: &AppState, group: &SeedGroup) -> Result<(), ApiError> {
        if state.store().group(group.id).await?.is_some() {
            return Ok(());
        }
        let owner = user_id(state, &group.owner).await?;
        let name = GroupName::parse(&group.name).map_err(ApiError::InvalidRequest)?;
        create_group(state, group.id, name, group.org_id, owner).await?;
        for member in &group.members {
            let id = user_id(state, member).await?;
            state
                .store()
                .add_member(group.id, id, Role::Member)
                .await
                .map_err(|e: StoreError| ApiError::from(e))?;
        }
        Ok(())
    }
}

async fn user_id(state: &AppState, email: &str) -> Result<Uuid, ApiError> {
    let email = Email::parse(email).map_err(ApiError::InvalidRequest)?;
    state
        .store()
        .user_by_email(email.as_str())
        .await?
        .map(|u| u.id)
        .ok_or_else(|| ApiError::NotFound(format!("no user {email}")))
}

fn apply_error(what: String, reason: String) -> SeedError {
    SeedError::Apply { what, reason }
}
