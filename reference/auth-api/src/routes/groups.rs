//! Groups and members. Reading takes either principal: a user must be a
//! member, a service must hold `groups:read`. Changing takes a user, and
//! adding or removing members takes the group's owner.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use reference_shared::{GROUPS_READ, Principal};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::{User, Verified, revoked};
use crate::domain::GroupName;
use crate::error::{ApiError, Json, Path};
use crate::state::AppState;
use crate::store::{Added, Group, Member, MemberRows, Role, now};

/// The group and its members, when this token may read them: one query
/// reads the token's revocation, the group and the members, and the
/// answers are given in the order the rules come: a refused token, then a
/// service without the scope (which learns nothing of the group), then no
/// such group, then a user who is not a member.
async fn readable_group(
    state: &AppState,
    token: &Verified,
    id: Uuid,
    members: MemberRows,
) -> Result<(Group, Vec<Member>), ApiError> {
    let read = state.store().read_group(id, token.token(), members).await?;
    if read.refused {
        return Err(revoked());
    }
    if let Principal::Service { scopes, .. } = &token.principal
        && !scopes.contains(GROUPS_READ)
    {
        return Err(ApiError::InsufficientScope(GROUPS_READ));
    }
    let group = read
        .group
        .ok_or_else(|| ApiError::NotFound("no such group".to_owned()))?;
    if let Principal::User { id: user, .. } = &token.principal
        && !read.members.iter().any(|m| m.user_id == *user)
    {
        return Err(ApiError::Forbidden(
            "you are not a member of this group".to_owned(),
        ));
    }
    Ok((group, read.members))
}

/// `GET /api/auth/groups/{id}`.
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    token: Verified,
) -> Result<Json<Group>, ApiError> {
    // The reader's own membership is all the answer needs.
    let reader = match &token.principal {
        Principal::User { id, .. } => Some(*id),
        Principal::Service { .. } => None,
    };
    let (group, _) = readable_group(&state, &token, id, MemberRows::Of(reader)).await?;
    Ok(Json(group))
}

/// `GET /api/auth/groups/{id}/members` answer.
#[derive(Debug, Serialize)]
pub struct MemberList {
    members: Vec<Member>,
}

/// `GET /api/auth/groups/{id}/members`: THE SEED'S ENDPOINT. A service token
/// with `groups:read` gets the list; it is never parsed as a user.
pub async fn members(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    token: Verified,
) -> Result<Json<MemberList>, ApiError> {
    let (_, members) = readable_group(&state, &token, id, MemberRows::All).await?;
    Ok(Json(MemberList { members }))
}

/// `POST /api/auth/groups` body.
#[derive(Debug, Deserialize)]
pub struct NewGroup {
    name: String,
    org_id: Uuid,
}

/// `POST /api/auth/groups`: the creator becomes the owner.
pub async fn create(
    State(state): State<AppState>,
    user: User,
    Json(request): Json<NewGroup>,
) -> Result<Response, ApiError> {
    let name = GroupName::parse(&request.name).map_err(ApiError::InvalidRequest)?;
    let group = create_group(&state, Uuid::now_v7(), name, request.org_id, user.id).await?;
    let location = format!("/api/auth/groups/{}", group.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(group),
    )
        .into_response())
}

/// Stores a group owned by `owner`; shared with seeding.
pub async fn create_group(
    state: &AppState,
    id: Uuid,
    name: GroupName,
    org_id: Uuid,
    owner: Uuid,
) -> Result<Group, ApiError> {
    let group = Group {
        id,
        name: name.as_str().to_owned(),
        org_id,
        created_at: now(),
    };
    state.store().insert_group(&group, owner).await?;
    tracing::info!(group_id = %group.id, owner = %owner, "created a group");
    Ok(group)
}

/// The group, when `user` owns it.
async fn owned_group(state: &AppState, user: Uuid, group: Uuid) -> Result<(), ApiError> {
    state
        .store()
        .group(group)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such group".to_owned()))?;
    match state.store().member(group, user).await? {
        Some(member) if member.role == Role::Owner => Ok(()),
        _ => Err(ApiError::Forbidden(
            "only the group's owner may change its members".to_owned(),
        )),
    }
}

/// `POST /api/auth/groups/{id}/members` body.
#[derive(Debug, Deserialize)]
pub struct NewMember {
    user_id: Uuid,
}

/// `POST /api/auth/groups/{id}/members`: 201 for a new member, 200 when the
/// user already was one.
pub async fn add_member(
    State(state): State<AppState>,
    user: User,
    Path(group): Path<Uuid>,
    Json(request): Json<NewMember>,
) -> Result<(StatusCode, Json<Member>), ApiError> {
    owned_group(&state, user.id, group).await?;
    if state.store().user_by_id(request.user_id).await?.is_none() {
        return Err(ApiError::NotFound("no such user".to_owned()));
    }
    Ok(
        match state
            .store()
            .add_member(group, request.user_id, Role::Member)
            .await?
        {
            Added::New(member) => (StatusCode::CREATED, Json(member)),
            Added::Existing(member) => (StatusCode::OK, Json(member)),
        },
    )
}

/// `DELETE /api/auth/groups/{id}/members/{user_id}`: 204. The owner cannot
/// leave their own group (409): it would have no one to manage it.
pub async fn remove_member(
    State(state): State<AppState>,
    user: User,
    Path((group, member)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    owned_group(&state, user.id, group).await?;
    if member == user.id {
        return Err(ApiError::Conflict(
            "the owner cannot leave the group".to_owned(),
        ));
    }
    if state.store().remove_member(group, member).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("this user is not a member".to_owned()))
    }
}
