//! Links and merges over HTTP: staff link tickets (both hold the link, requesters see none),
//! a parent is not resolved while its child is open unless forced, and a merge answers the
//! survivor, closes the duplicate as a pointer and tells its requester. The page controls are
//! tested in `web.rs` and the browser journey.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::json;

async fn triage(app: &TestApp, n: &str) {
    let r = app.post(&format!("/api/v1/tickets/{n}/approve"), &app.admin, json!({"priority": "high"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app.post(&format!("/api/v1/tickets/{n}/claim"), &app.admin, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn staff_link_tickets_a_parent_waits_for_its_child_and_a_duplicate_merges() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let (other_id, other) = app.user(2, "employee").await;
    let parent = app.ticket(&emp, "New office floor").await;
    let child = app.ticket(&emp, "Network on the new floor").await;
    triage(&app, &parent).await;
    triage(&app, &child).await;

    let links = format!("/api/v1/tickets/{parent}/links");
    let r = app.post(&links, &emp, json!({"kind": "parent_of", "ticket": child})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = app.post(&links, &app.admin, json!({"kind": "sibling_of", "ticket": child})).await;
    assert_eq!((r.status, r.field_names()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["kind".to_owned()]));
    let r = app.post(&links, &app.admin, json!({"kind": "parent_of", "ticket": "TX9999"})).await;
    assert_eq!(r.field_names(), vec!["ticket"]);
    let r = app.post(&links, &app.admin, json!({"kind": "parent_of", "ticket": child})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["links"], json!([{"kind": "parent_of", "ticket": child}]));
    let c = app.get(&format!("/api/v1/tickets/{child}"), &app.admin).await;
    assert_eq!(c.body["links"], json!([{"kind": "child_of", "ticket": parent}]));
    assert_eq!(app.get(&format!("/api/v1/tickets/{child}"), &emp).await.body["links"], json!([]));

    // Resolving the parent waits for the child, unless forced.
    let resolve = format!("/api/v1/tickets/{parent}/resolve");
    let r = app.post(&resolve, &app.admin, json!({"note": "Floor ready"})).await;
    assert_eq!((r.status, r.field_names()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["force".to_owned()]));
    let r = app.post(&resolve, &app.admin, json!({"note": "Floor ready", "force": true})).await;
    assert_eq!((r.status, r.body["status"].clone()), (StatusCode::OK, json!("resolved")), "{:?}", r.body);
    let r = app.call(Method::DELETE, &format!("{links}/{child}"), Some(&app.admin), None).await;
    assert_eq!((r.status, r.body["links"].clone()), (StatusCode::OK, json!([])));
    let h = app.get(&format!("/api/v1/tickets/{child}/history"), &app.admin).await;
    assert!(h.body.as_array().unwrap().iter().any(|e| e["kind"] == "unlinked" && e["ticket"] == parent.as_str()));

    // A duplicate from a colleague merges into the child.
    let dup = app.ticket(&other, "Network down on floor 5").await;
    app.post(&format!("/api/v1/tickets/{dup}/comments"), &other, json!({"body": "Since 9:00"})).await;
    let merge = format!("/api/v1/tickets/{dup}/merge");
    let r = app.post(&merge, &app.admin, json!({"into": child, "note": ""})).await;
    assert_eq!(r.field_names(), vec!["note"]);
    let r = app.post(&merge, &app.admin, json!({"into": child, "note": "Same outage as the floor work"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["number"], child.as_str());
    assert!(r.body["followers"].as_array().unwrap().contains(&json!(other_id)));
    assert!(app.mail_kinds("user2@example.com").contains(&"ticket_merged"));
    let d = app.get(&format!("/api/v1/tickets/{dup}"), &other).await;
    assert_eq!((d.body["status"].clone(), d.body["merged_into"].clone()), (json!("closed"), json!(child)));
    let thread = app.get(&format!("/api/v1/tickets/{child}/comments"), &other).await;
    assert!(thread.body.to_string().contains("Since 9:00"), "{:?}", thread.body);
    let r = app.post(&merge, &app.admin, json!({"into": parent, "note": "again"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}
