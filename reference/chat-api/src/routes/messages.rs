//! Sending and listing messages, step by step as the contract lists them.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::User;
use crate::error::{ApiError, Json, Path, Query};
use crate::state::AppState;
use crate::store::{Cursor, Inserted, Message, now};
use crate::upstream::Group;

/// Most characters in a message, after trimming.
pub const MAX_CONTENT_CHARS: usize = 4000;
/// Longest `Idempotency-Key`.
const MAX_KEY_LEN: usize = 255;
/// Namespace of message ids derived from a sender and an `Idempotency-Key`.
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6f1b_3c7e_2d4a_4e8f_9a51_0c2b_7d3e_4f60);

/// `POST …/messages` body.
#[derive(Debug, Deserialize)]
pub struct SendRequest {
    content: String,
    sender_id: Option<String>,
}

/// The group, when the user is one of its members: the group from the
/// auth-api, then its members, both with the service token.
async fn group_of_member(state: &AppState, group: Uuid, user: Uuid) -> Result<Group, ApiError> {
    let not_found = || ApiError::NotFound("no such group".to_owned());
    let found = state.auth().group(group).await?.ok_or_else(not_found)?;
    let members = state.auth().members(group).await?.ok_or_else(not_found)?;
    if members.iter().any(|m| m.user_id == user) {
        Ok(found)
    } else {
        Err(ApiError::Forbidden(
            "you are not a member of this group".to_owned(),
        ))
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| {
            !k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| (0x21..=0x7e).contains(&b))
        })
        .ok_or_else(|| {
            ApiError::InvalidRequest(format!(
                "an Idempotency-Key is 1 to {MAX_KEY_LEN} visible ASCII characters"
            ))
        })?;
    Ok(Some(key.to_owned()))
}

fn created(message: &Message) -> Response {
    let location = format!(
        "/api/chat/groups/{}/messages/{}",
        message.group_id, message.id
    );
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(message.clone()),
    )
        .into_response()
}

/// A replay of the first answer, or 422 when the key came with another body.
fn replay(existing: &Message, request_sha256: Option<&String>) -> Result<Response, ApiError> {
    if existing.request_sha256.as_ref() == request_sha256 {
        Ok(created(existing))
    } else {
        Err(ApiError::IdempotencyKeyReused)
    }
}

/// `POST /api/chat/groups/{group_id}/messages`.
pub async fn send(
    State(state): State<AppState>,
    user: User,
    Path(group): Path<Uuid>,
    headers: HeaderMap,
    Json(request): Json<SendRequest>,
) -> Result<Response, ApiError> {
    if let Some(sender) = &request.sender_id
        && *sender != user.id.hyphenated().to_string()
    {
        return Err(ApiError::Forbidden(
            "sender_id must be the token's subject".to_owned(),
        ));
    }
    let content = request.content.trim();
    let chars = content.chars().count();
    if !(1..=MAX_CONTENT_CHARS).contains(&chars) {
        return Err(ApiError::InvalidRequest(format!(
            "content has 1 to {MAX_CONTENT_CHARS} characters after trimming; this has {chars}"
        )));
    }
    let key = idempotency_key(&headers)?;
    let (id, request_sha256) = match &key {
        Some(key) => {
            let digest = Sha256::digest(
                serde_json::to_vec(&(group, &request.content, &request.sender_id))
                    .unwrap_or_default(),
            );
            (
                Uuid::new_v5(
                    &IDEMPOTENCY_NAMESPACE,
                    format!("{}\n{key}", user.id).as_bytes(),
                ),
                Some(format!("{digest:x}")),
            )
        }
        None => (Uuid::now_v7(), None),
    };
    if key.is_some()
        && let Some(existing) = state.store().get(id).await?
    {
        return replay(&existing, request_sha256.as_ref());
    }

    let found = group_of_member(&state, group, user.id).await?;
    let message = Message {
        id,
        group_id: found.id,
        sender_id: user.id,
        org_id: found.org_id.to_string(),
        content: content.to_owned(),
        created_at: now(),
        request_sha256,
    };
    match state.store().insert(&message).await? {
        Inserted::New => {
            tracing::info!(message_id = %message.id, group_id = %group, "stored a message");
            Ok(created(&message))
        }
        // A concurrent retry with the same key stored first.
        Inserted::Exists(existing) => replay(&existing, message.request_sha256.as_ref()),
    }
}

/// `GET …/messages` query.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<u32>,
    before: Option<String>,
}

/// `GET …/messages` answer.
#[derive(Debug, Serialize)]
pub struct Page {
    messages: Vec<Message>,
    next_cursor: Option<String>,
}

/// `GET /api/chat/groups/{group_id}/messages?limit=N&before=CURSOR`: newest
/// first; following `next_cursor` returns every message exactly once.
pub async fn list(
    State(state): State<AppState>,
    user: User,
    Path(group): Path<Uuid>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Page>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::InvalidRequest("limit is 1 to 100".to_owned()));
    }
    let before = query
        .before
        .as_deref()
        .map(|c| {
            Cursor::decode(c).ok_or_else(|| {
                ApiError::InvalidRequest("before is not a cursor from this API".to_owned())
            })
        })
        .transpose()?;
    group_of_member(&state, group, user.id).await?;
    let mut messages = state.store().page(group, limit + 1, before).await?;
    let more = messages.len() > limit as usize;
    messages.truncate(limit as usize);
    let next_cursor = if more {
        messages.last().map(|m| Cursor::after(m).encode())
    } else {
        None
    };
    Ok(Json(Page {
        messages,
        next_cursor,
    }))
}

/// `GET /api/chat/groups/{group_id}/messages/{id}`: where a 201's
/// `Location` points.
pub async fn show(
    State(state): State<AppState>,
    user: User,
    Path((group, id)): Path<(Uuid, Uuid)>,
) -> Result<Json<Message>, ApiError> {
    group_of_member(&state, group, user.id).await?;
    state
        .store()
        .get(id)
        .await?
        .filter(|m| m.group_id == group)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("no such message".to_owned()))
}
