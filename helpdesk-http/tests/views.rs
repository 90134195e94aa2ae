//! Saved views over HTTP: staff keep their own, admins share them; each is listed with its
//! count for the caller (relative filters: "me" is whoever asks); a default per person; bad
//! filters name their field. The queue's controls are tested in `web.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::json;

#[tokio::test]
async fn views_are_saved_counted_for_the_caller_and_one_is_the_default() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let (_, coord) = app.user(2, "coordinator").await;
    let (_, other) = app.user(3, "coordinator").await;
    let a = app.ticket(&emp, "Badge broken").await;
    app.ticket(&emp, "Badge lost").await;
    app.post(&format!("/api/v1/tickets/{a}/approve"), &coord, json!({"priority": "high"})).await;
    let r = app.post(&format!("/api/v1/tickets/{a}/claim"), &coord, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    assert_eq!(app.get("/api/v1/views", &emp).await.status, StatusCode::FORBIDDEN);
    let mine = json!({"name": "Mine, urgent first", "filter": {"assignee": "me", "sort": "priority", "order": "asc"},
                      "columns": ["priority", "status"]});
    let r = app.post("/api/v1/views", &coord, mine.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["columns"], json!(["status", "priority"]));
    assert_eq!(r.body["filter"]["assignee"], "me");
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(app.post("/api/v1/views", &coord, mine).await.field_names(), vec!["name".to_owned()]);
    let bad = json!({"name": "Bad", "filter": {"statuses": ["nope"], "departments": ["moon"], "assignee": "you"}});
    let r = app.post("/api/v1/views", &coord, bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.field_names(), vec!["statuses".to_owned(), "departments".to_owned(), "assignee".to_owned()]);
    let shared = json!({"name": "New", "shared": true, "filter": {"statuses": ["new"]}});
    assert_eq!(app.post("/api/v1/views", &coord, shared.clone()).await.status, StatusCode::FORBIDDEN);
    let r = app.post("/api/v1/views", &app.admin, shared).await;
    let shared_id = r.body["id"].as_str().unwrap().to_owned();

    // "me" is whoever asks: one ticket for the coordinator who took it, none for the other.
    let list = app.get("/api/v1/views", &coord).await;
    let counts: Vec<(String, u64)> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap().to_owned(), v["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(counts, vec![("Mine, urgent first".to_owned(), 1), ("New".to_owned(), 1)]);
    let theirs = app.get("/api/v1/views", &other).await;
    assert_eq!(theirs.body.as_array().unwrap().len(), 1, "another's personal view stays theirs");

    // A default per person, only of a view they can open.
    let default = "/api/v1/me/default-view";
    let r = app.call(Method::PUT, default, Some(&coord), Some(json!({"id": id}))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = app.call(Method::PUT, default, Some(&other), Some(json!({"id": id}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let list = app.get("/api/v1/views", &coord).await;
    assert!(list.body.as_array().unwrap().iter().any(|v| v["id"] == id.as_str() && v["default"] == true));

    // Changed and deleted by whoever may.
    let path = format!("/api/v1/views/{id}");
    let r = app.call(Method::PUT, &path, Some(&coord), Some(json!({"name": "Mine"}))).await;
    assert_eq!((r.status, r.body["name"].clone()), (StatusCode::OK, json!("Mine")), "{:?}", r.body);
    let shared_path = format!("/api/v1/views/{shared_id}");
    assert_eq!(app.call(Method::DELETE, &shared_path, Some(&coord), None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.call(Method::DELETE, &path, Some(&coord), None).await.status, StatusCode::NO_CONTENT);
    let list = app.get("/api/v1/views", &coord).await;
    assert!(list.body.as_array().unwrap().iter().all(|v| v["default"] == false), "the default went with it");
}
