use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, expect_error, expect_json, header_value, on_both_stores};

on_both_stores!(
    the_seeds_flow_a_service_token_reads_the_group_and_its_members,
    a_member_reads_and_a_non_member_is_refused,
    a_service_without_the_scope_gets_insufficient_scope,
    unknown_groups_and_malformed_ids,
    members_are_ordered_by_joined_at_then_user_id,
    owners_add_and_remove_members,
    creating_a_group_takes_a_user,
);

async fn the_seeds_flow_a_service_token_reads_the_group_and_its_members(app: TestApp) {
    let world = app.world().await;
    let service = app.service_token(&world.reader, Some("groups:read")).await;

    let group = app
        .get(&format!("/api/auth/groups/{}", world.group))
        .bearer_auth(&service)
        .send()
        .await
        .unwrap();
    let group = expect_json(group, StatusCode::OK).await;
    assert_eq!(group["id"], world.group.as_str());
    assert_eq!(group["org_id"], world.org.as_str());
    assert_eq!(group["name"], "Engineering");
    assert!(group["created_at"].as_str().unwrap().ends_with('Z'));

    // The seed's bug: this answered 401 "Invalid subject in token".
    let members = app
        .get(&format!("/api/auth/groups/{}/members", world.group))
        .bearer_auth(&service)
        .send()
        .await
        .unwrap();
    let members = expect_json(members, StatusCode::OK).await;
    let list = members["members"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["user_id"], world.alice.id.as_str());
    assert_eq!(list[0]["email"], world.alice.email.as_str());
    assert_eq!(list[0]["role"], "owner");
    assert!(list[0]["joined_at"].is_string());
}

async fn a_member_reads_and_a_non_member_is_refused(app: TestApp) {
    let world = app.world().await;
    for path in [
        format!("/api/auth/groups/{}", world.group),
        format!("/api/auth/groups/{}/members", world.group),
    ] {
        let alice = app
            .get(&path)
            .bearer_auth(&world.alice.token)
            .send()
            .await
            .unwrap();
        expect_json(alice, StatusCode::OK).await;
        let bob = app
            .get(&path)
            .bearer_auth(&world.bob.token)
            .send()
            .await
            .unwrap();
        expect_error(bob, StatusCode::FORBIDDEN, "forbidden").await;
    }
}

async fn a_service_without_the_scope_gets_insufficient_scope(app: TestApp) {
    let world = app.world().await;
    let blind = app.service_token(&world.blind, None).await;
    for path in [
        format!("/api/auth/groups/{}", world.group),
        format!("/api/auth/groups/{}/members", world.group),
    ] {
        let response = app.get(&path).bearer_auth(&blind).send().await.unwrap();
        assert_eq!(
            header_value(&response, "www-authenticate"),
            r#"Bearer realm="auth-api", error="insufficient_scope", scope="groups:read""#
        );
        expect_error(response, StatusCode::FORBIDDEN, "insufficient_scope").await;
    }
}

async fn unknown_groups_and_malformed_ids(app: TestApp) {
    let world = app.world().await;
    let service = app.service_token(&world.reader, None).await;
    let unknown = uuid::Uuid::new_v4();
    for token in [&service, &world.alice.token] {
        let response = app
            .get(&format!("/api/auth/groups/{unknown}/members"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        let response = app
            .get("/api/auth/groups/not-a-uuid/members")
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
}

async fn members_are_ordered_by_joined_at_then_user_id(app: TestApp) {
    let world = app.world().await;
    let mut expected = vec![world.alice.id.clone()];
    for i in 0..4 {
        let user = app.create_user(&format!("member{i}@example.com")).await;
        let added = app
            .post(&format!("/api/auth/groups/{}/members", world.group))
            .bearer_auth(&world.alice.token)
            .json(&json!({ "user_id": user.id }))
            .send()
            .await
            .unwrap();
        expect_json(added, StatusCode::CREATED).await;
        expected.push(user.id);
    }
    let members = app
        .get(&format!("/api/auth/groups/{}/members", world.group))
        .bearer_auth(&world.alice.token)
        .send()
        .await
        .unwrap();
    let members = expect_json(members, StatusCode::OK).await;
    let order: Vec<(String, String)> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["joined_at"].as_str().unwrap().to_owned(),
                m["user_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    assert_eq!(
        order.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>(),
        expected
    );
}

async fn owners_add_and_remove_members(app: TestApp) {
    let world = app.world().await;
    let members = format!("/api/auth/groups/{}/members", world.group);
    let add = |token: &str, user: &str| {
        app.post(&members)
            .bearer_auth(token)
            .json(&json!({ "user_id": user }))
            .send()
    };

    let first = expect_json(
        add(&world.alice.token, &world.bob.id).await.unwrap(),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(first["role"], "member");
    assert_eq!(first["user_id"], world.bob.id.as_str());
    let again = expect_json(
        add(&world.alice.token, &world.bob.id).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(again, first, "adding twice changes nothing");

    let carol = app.create_user("carol@example.com").await;
    expect_error(
        add(&world.bob.token, &carol.id).await.unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let nobody = uuid::Uuid::new_v4().to_string();
    expect_error(
        add(&world.alice.token, &nobody).await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let bad = app
        .post(&members)
        .bearer_auth(&world.alice.token)
        .json(&json!({ "user_id": "x" }))
        .send()
        .await
        .unwrap();
    expect_error(bad, StatusCode::BAD_REQUEST, "invalid_request").await;

    let remove = |token: &str, user: &str| {
        app.delete(&format!("{members}/{user}"))
            .bearer_auth(token)
            .send()
    };
    expect_error(
        remove(&world.bob.token, &world.bob.id).await.unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let removed = remove(&world.alice.token, &world.bob.id).await.unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    expect_error(
        remove(&world.alice.token, &world.bob.id).await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        remove(&world.alice.token, &world.alice.id).await.unwrap(),
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;

    let bob_reads = app
        .get(&members)
        .bearer_auth(&world.bob.token)
        .send()
        .await
        .unwrap();
    expect_error(bob_reads, StatusCode::FORBIDDEN, "forbidden").await;
}

async fn creating_a_group_takes_a_user(app: TestApp) {
    let world = app.world().await;
    let org = uuid::Uuid::new_v4();
    let created = app
        .post("/api/auth/groups")
        .bearer_auth(&world.bob.token)
        .json(&json!({ "name": "  Design  ", "org_id": org }))
        .send()
        .await
        .unwrap();
    let location = header_value(&created, "location");
    let group = expect_json(created, StatusCode::CREATED).await;
    assert_eq!(group["name"], "Design");
    assert_eq!(
        location,
        format!("/api/auth/groups/{}", group["id"].as_str().unwrap())
    );
    let members = app
        .get(&format!("{location}/members"))
        .bearer_auth(&world.bob.token)
        .send()
        .await
        .unwrap();
    let members = expect_json(members, StatusCode::OK).await;
    assert_eq!(members["members"][0]["role"], "owner");
    assert_eq!(members["members"][0]["user_id"], world.bob.id.as_str());

    let service = app.service_token(&world.reader, None).await;
    let by_service = app
        .post("/api/auth/groups")
        .bearer_auth(service)
        .json(&json!({ "name": "x", "org_id": org }))
        .send()
        .await
        .unwrap();
    expect_error(by_service, StatusCode::FORBIDDEN, "forbidden").await;
    for bad in [
        json!({ "name": "", "org_id": org }),
        json!({ "name": "x", "org_id": "nope" }),
        json!({ "name": "x" }),
    ] {
        let response = app
            .post("/api/auth/groups")
            .bearer_auth(&world.bob.token)
            .json(&bad)
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
}
