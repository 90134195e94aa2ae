//! Macros over HTTP: staff keep personal ones, admins shared ones; a preview fills the
//! placeholders and writes nothing; applying is all or nothing (a part the lifecycle refuses
//! leaves the ticket as it was), guarded by `If-Match`, replayed by `Idempotency-Key`, and its
//! history entries name the macro. Requesters have no macros. The page controls are tested in
//! `web.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn macros_are_kept_previewed_and_applied_all_or_nothing() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let (_, coord) = app.user(2, "coordinator").await;
    let (_, other) = app.user(3, "coordinator").await;
    let n = app.ticket(&emp, "Printer jams").await;
    let r = app.post(&format!("/api/v1/tickets/{n}/approve"), &coord, json!({"priority": "high"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app.post(&format!("/api/v1/tickets/{n}/claim"), &coord, json!({})).await;
    let version = r.body["version"].as_u64().unwrap();

    // Requesters have no macros; a coordinator may not share one.
    assert_eq!(app.get("/api/v1/macros", &emp).await.status, StatusCode::FORBIDDEN);
    let shared = json!({"name": "Escalate", "shared": true, "priority": "critical"});
    assert_eq!(app.post("/api/v1/macros", &coord, shared.clone()).await.status, StatusCode::FORBIDDEN);
    let r = app.post("/api/v1/macros", &app.admin, shared).await;
    assert_eq!((r.status, r.body["shared"].clone()), (StatusCode::CREATED, json!(true)), "{:?}", r.body);

    // Checked when saved, each field named.
    let r = app.post("/api/v1/macros", &coord, json!({"name": "Bad", "comment": "Hi {{requester.phone}}"})).await;
    assert_eq!((r.status, r.field_names()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["comment".to_owned()]));
    let r = app.post("/api/v1/macros", &coord, json!({"name": "Bad", "action": "resolve"})).await;
    assert_eq!(r.field_names(), vec!["action_note".to_owned()]);
    let r = app.post("/api/v1/macros", &coord, json!({"name": "Bad", "action": "assign"})).await;
    assert_eq!(r.field_names(), vec!["action".to_owned()]);
    let r = app.post("/api/v1/macros", &coord, json!({"name": " "})).await;
    assert!(r.field_names().contains(&"name".to_owned()), "{:?}", r.body);

    let body = json!({
        "name": "Solved: toner",
        "comment": "Hello {{requester.first_name}}, I replaced the toner of {{ticket.number}}.",
        "add_tags": ["Toner"],
        "action": "resolve",
        "action_note": "Toner replaced",
    });
    let r = app.post("/api/v1/macros", &coord, body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r = app.post("/api/v1/macros", &coord, json!({"name": "SOLVED: TONER", "priority": "low"})).await;
    assert_eq!(r.field_names(), vec!["name".to_owned()]);
    let mine = app.get("/api/v1/macros", &coord).await;
    assert_eq!(mine.body.as_array().unwrap().len(), 2, "{:?}", mine.body);
    assert_eq!(app.get("/api/v1/macros", &other).await.body.as_array().unwrap().len(), 1);
    let r = app.post(&format!("/api/v1/tickets/{n}/macros/{id}/preview"), &other, json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "another's personal macro");

    // The preview fills placeholders and writes nothing.
    let r = app.post(&format!("/api/v1/tickets/{n}/macros/{id}/preview"), &coord, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["comment"], json!("Hello Test, I replaced the toner of TX0001."));
    assert_eq!(r.body["status"], json!("resolved"));
    assert_eq!(r.body["macro"]["name"], json!("Solved: toner"));
    assert!(r.body["changes"].as_array().unwrap().iter().any(|c| c["field"] == "tags"));
    assert_eq!(app.get(&format!("/api/v1/tickets/{n}"), &coord).await.body["version"], json!(version));

    // A stale If-Match is 412 and applies nothing.
    let apply = format!("/api/v1/tickets/{n}/macros/{id}/apply");
    let r = app.call_with(Method::POST, &apply, Some(&coord), None, &[("If-Match", "\"99\"")], None).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{:?}", r.body);
    let tag = format!("\"{version}\"");
    let headers = [("If-Match", tag.as_str()), ("Idempotency-Key", "macro-1")];
    let r = app.call_with(Method::POST, &apply, Some(&coord), None, &headers, None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((r.body["status"].clone(), r.body["tags"].clone()), (json!("resolved"), json!(["toner"])));
    assert_eq!(r.body["version"], json!(version + 1));
    // Replayed, not applied again.
    let again = app.call_with(Method::POST, &apply, Some(&coord), None, &headers, None).await;
    assert_eq!((again.status, again.body["version"].clone()), (StatusCode::OK, json!(version + 1)));
    let comments = app.get(&format!("/api/v1/tickets/{n}/comments"), &emp).await;
    assert_eq!(comments.body.as_array().unwrap().len(), 1, "{:?}", comments.body);
    let history = app.get(&format!("/api/v1/tickets/{n}/history"), &coord).await;
    let named: Vec<_> =
        history.body.as_array().unwrap().iter().filter(|e| e["by_macro"] == json!("Solved: toner")).collect();
    assert_eq!(named.len(), 3, "{:?}", history.body);
    // The requester sees the public events, never the name of the staff's tool.
    let theirs = app.get(&format!("/api/v1/tickets/{n}/history"), &emp).await;
    assert!(theirs.body.as_array().unwrap().iter().all(|e| e.get("by_macro").is_none()), "{:?}", theirs.body);

    // Resolved now: applying it again is refused by the lifecycle as a whole.
    let r = app.post(&apply, &coord, json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(app.get(&format!("/api/v1/tickets/{n}/comments"), &emp).await.body.as_array().unwrap().len(), 1);

    // Changed and deleted by its owner only.
    let put = format!("/api/v1/macros/{id}");
    let r = app.call(Method::PUT, &put, Some(&other), Some(body.clone())).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.call(Method::PUT, &put, Some(&coord), Some(json!({"name": "Toner", "add_tags": ["toner"]}))).await;
    assert_eq!((r.status, r.body["name"].clone()), (StatusCode::OK, json!("Toner")), "{:?}", r.body);
    assert_eq!(app.call(Method::DELETE, &put, Some(&coord), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.call(Method::DELETE, &put, Some(&coord), None).await.status, StatusCode::NOT_FOUND);
}
