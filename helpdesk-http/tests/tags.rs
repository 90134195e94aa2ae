//! Tags over HTTP: staff set, add and remove them (normalised), requesters neither change nor
//! see them (nor filter by them) under the default policy, the list filters by any or all of
//! a set, the change is an internal history entry, and the CSV export and the summary report
//! carry them. The page controls are tested in `web.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::json;

async fn patch(app: &TestApp, number: &str, token: &str, body: serde_json::Value) -> common::Resp {
    app.call(Method::PATCH, &format!("/api/v1/tickets/{number}"), Some(token), Some(body)).await
}

fn numbers(r: &common::Resp) -> Vec<String> {
    let mut v: Vec<String> =
        r.body["items"].as_array().unwrap().iter().map(|t| t["number"].as_str().unwrap().to_owned()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn staff_tag_tickets_and_the_list_filters_by_any_or_all_of_a_set() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let a = app.ticket(&emp, "Printer jams").await;
    let b = app.ticket(&emp, "VPN drops").await;
    let c = app.ticket(&emp, "Monitor flickers").await;

    // A whole set, normalised: case, whitespace, repeats.
    let r = patch(&app, &a, &app.admin, json!({"tags": ["VIP", " Printer  3rd floor ", "vip"]})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["tags"], json!(["printer-3rd-floor", "vip"]));
    // Adding and removing leave the others alone.
    let r = patch(&app, &b, &app.admin, json!({"add_tags": ["vip"]})).await;
    assert_eq!(r.body["tags"], json!(["vip"]), "{:?}", r.body);
    let r = patch(&app, &a, &app.admin, json!({"add_tags": ["urgent"], "remove_tags": ["printer-3rd-floor"]})).await;
    assert_eq!(r.body["tags"], json!(["urgent", "vip"]), "{:?}", r.body);

    // Bad tags name their field and change nothing.
    let r = patch(&app, &c, &app.admin, json!({"tags": ["ok", "a,b"]})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.field_names(), vec!["tags"]);
    let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let r = patch(&app, &c, &app.admin, json!({"add_tags": many})).await;
    assert_eq!((r.status, r.field_names()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["add_tags".to_owned()]));
    let r = app.get(&format!("/api/v1/tickets/{c}"), &app.admin).await;
    assert_eq!((r.body["tags"].clone(), r.body["version"].clone()), (json!([]), json!(1)));

    let list = |q: &str| format!("/api/v1/tickets?{q}");
    assert_eq!(numbers(&app.get(&list("tags_any=vip"), &app.admin).await), vec![a.clone(), b.clone()]);
    assert_eq!(numbers(&app.get(&list("tags_any=URGENT,nothing"), &app.admin).await), vec![a.clone()]);
    assert_eq!(numbers(&app.get(&list("tags_all=vip,urgent"), &app.admin).await), vec![a.clone()]);
    assert_eq!(numbers(&app.get(&list("tags_all=vip&tags_any=urgent"), &app.admin).await), vec![a.clone()]);
    let r = app.get(&list("tags_any=a%2Cb,%07"), &app.admin).await;
    assert_eq!((r.status, r.field_names()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["tags_any".to_owned()]));

    // The history names the change, for staff only.
    let history = app.get(&format!("/api/v1/tickets/{a}/history"), &app.admin).await;
    let tag_events: Vec<&serde_json::Value> =
        history.body.as_array().unwrap().iter().filter(|e| e["changes"][0]["field"] == "tags").collect();
    assert_eq!(tag_events.len(), 2, "{:?}", history.body);
    assert!(tag_events.iter().all(|e| e["internal"] == true), "{tag_events:?}");
    let theirs = app.get(&format!("/api/v1/tickets/{a}/history"), &emp).await;
    assert!(!theirs.body.to_string().contains("vip"), "{:?}", theirs.body);

    // Reports: the summary counts tickets by tag; the CSV export has a tags column.
    let summary = app.get("/api/v1/reports/summary", &app.admin).await;
    assert_eq!(summary.body["by_tag"], json!({"urgent": 1, "vip": 2}), "{:?}", summary.body);
    let csv = app.get("/api/v1/reports/tickets.csv?tags_any=vip&sort=number&order=asc", &app.admin).await;
    let text = csv.body.as_str().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].ends_with(",tags"), "{text}");
    assert!(lines[1].ends_with(",\"urgent, vip\"") && lines[2].ends_with(",vip"), "{text}");
}

#[tokio::test]
async fn requesters_neither_change_nor_see_nor_filter_by_tags_under_the_default_policy() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let n = app.ticket(&emp, "Laptop slow").await;
    let r = patch(&app, &n, &emp, json!({"add_tags": ["mine"]})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    patch(&app, &n, &app.admin, json!({"tags": ["difficult"]})).await;
    let mine = app.get(&format!("/api/v1/tickets/{n}"), &emp).await;
    assert_eq!(mine.body["tags"], json!([]), "{:?}", mine.body);
    let list = app.get("/api/v1/tickets", &emp).await;
    assert!(!list.body.to_string().contains("difficult"), "{:?}", list.body);
    let r = app.get("/api/v1/tickets?tags_any=difficult", &emp).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
}

#[tokio::test]
async fn the_openapi_document_types_the_tag_fields() {
    let app = TestApp::new().await;
    let doc = app.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    let schemas = &doc.body["components"]["schemas"];
    assert_eq!(schemas["TicketOut"]["properties"]["tags"]["type"], "array", "{}", schemas["TicketOut"]);
    assert_eq!(
        schemas["TicketEditBody"]["properties"]["add_tags"]["type"].as_array().map(|a| a.contains(&json!("array"))),
        Some(true)
    );
    let params = doc.body["paths"]["/tickets"]["get"]["parameters"].to_string();
    assert!(params.contains("tags_any") && params.contains("tags_all"), "{params}");
}
