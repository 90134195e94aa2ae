//! Followers over HTTP: the requester adds a colleague by address (errors name `email`), the
//! colleague reads the public thread and comments but sees nothing internal, lists the tickets
//! they follow with `follower=me`, gets mails, and loses access at their next request once
//! removed; `If-Match` guards the change. The page controls are tested in `web.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn a_colleague_follows_reads_the_public_thread_comments_and_is_removed() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let (mate_id, mate) = app.user(2, "employee").await;
    let (_, stranger) = app.user(3, "employee").await;
    let n = app.ticket(&emp, "Printer jams on the 3rd floor").await;
    let followers = format!("/api/v1/tickets/{n}/followers");

    // Bad input names the field; a stranger cannot add anyone (nor see the ticket).
    for (email, code) in [("user1@example.com", "is_requester"), ("ghost@example.com", "unknown"), ("x", "invalid")] {
        let r = app.post(&followers, &emp, json!({ "email": email })).await;
        assert_eq!(
            (r.status, r.field_names()),
            (StatusCode::UNPROCESSABLE_ENTITY, vec!["email".to_owned()]),
            "{email}"
        );
        assert_eq!(r.body["errors"][0]["code"], code, "{:?}", r.body);
    }
    let r = app.post(&followers, &stranger, json!({ "email": "user2@example.com" })).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A stale ETag is refused.
    let r = app
        .call_with(
            Method::POST,
            &followers,
            Some(&emp),
            Some(json!({ "email": "user2@example.com" })),
            &[("if-match", "\"99\"")],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{:?}", r.body);

    let r = app.post(&followers, &emp, json!({ "email": "User2@Example.com" })).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["followers"], json!([mate_id]));
    assert!(app.mail_kinds("user2@example.com").contains(&"following_started"));
    let list = app.get(&followers, &mate).await;
    assert_eq!(list.body[0]["name"], "Test User2", "{:?}", list.body);

    // The follower reads the public thread; the internal note stays with staff.
    let note = app
        .post(
            &format!("/api/v1/tickets/{n}/comments"),
            &app.admin,
            json!({ "body": "INTERNAL: vendor contract", "internal": true }),
        )
        .await;
    assert_eq!(note.status, StatusCode::CREATED, "{:?}", note.body);
    app.post(&format!("/api/v1/tickets/{n}/comments"), &app.admin, json!({ "body": "A technician is on the way" }))
        .await;
    let comments = app.get(&format!("/api/v1/tickets/{n}/comments"), &mate).await;
    assert_eq!(comments.status, StatusCode::OK);
    assert!(!comments.body.to_string().contains("INTERNAL"), "{:?}", comments.body);
    assert!(comments.body.to_string().contains("technician"));
    assert!(!app.get(&format!("/api/v1/tickets/{n}/history"), &mate).await.body.to_string().contains("INTERNAL"));
    assert!(app.mail_kinds("user2@example.com").contains(&"public_comment"));
    // They answer; they cannot write internal notes or act on the ticket.
    let r = app.post(&format!("/api/v1/tickets/{n}/comments"), &mate, json!({ "body": "It is the HP one" })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r =
        app.post(&format!("/api/v1/tickets/{n}/comments"), &mate, json!({ "body": "psst", "internal": true })).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.post(&format!("/api/v1/tickets/{n}/withdraw"), &mate, json!({})).await;
    assert!(r.status.is_client_error(), "{:?}", r.body);

    // `follower=me` lists it for them; their own list does not.
    let mine = app.get("/api/v1/tickets?follower=me", &mate).await;
    assert_eq!(mine.body["items"][0]["number"], n.as_str(), "{:?}", mine.body);
    assert_eq!(app.get("/api/v1/tickets", &mate).await.body["items"], json!([]));
    let r = app.get("/api/v1/tickets?follower=someone", &mate).await;
    assert_eq!(r.field_names(), vec!["follower"]);

    // The history names the change for everyone who sees the ticket.
    let history = app.get(&format!("/api/v1/tickets/{n}/history"), &emp).await;
    let added = history.body.as_array().unwrap().iter().find(|e| e["kind"] == "follower_added").unwrap();
    assert_eq!(added["user"], mate_id.as_str());

    // Removed: the next request is refused.
    let r = app.call(Method::DELETE, &format!("{followers}/{mate_id}"), Some(&emp), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["followers"], json!([]));
    assert_eq!(app.get(&format!("/api/v1/tickets/{n}"), &mate).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/tickets?follower=me", &mate).await.body["items"], json!([]));
    let r = app.call(Method::DELETE, &format!("{followers}/{mate_id}"), Some(&emp), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
