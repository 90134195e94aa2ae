//! Custom fields over HTTP: admins define them (`PUT /custom-fields`, versioned, errors naming
//! the definition), tickets carry typed values (`fields`), requesters set only theirs when
//! filing and never see internal ones, lists filter and sort by them, and the CSV export has a
//! column per field. The page controls are tested in `web.rs` and the browser journey.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::json;

fn definitions() -> serde_json::Value {
    json!([
        {"key": "site", "label": "Site", "kind": "choice", "options": ["Lisbon", "Berlin"], "required": true, "requester_sets": true},
        {"key": "asset_tag", "label": "Asset tag", "kind": "text", "requester_sets": true},
        {"key": "cost", "label": "Cost", "kind": "number", "internal": true},
        {"key": "needed_by", "label": "Needed by", "kind": "date"},
        {"key": "os", "label": "Systems", "kind": "multi_choice", "options": ["linux", "mac", "windows"]},
    ])
}

#[tokio::test]
async fn admins_define_fields_tickets_carry_typed_values_and_lists_filter_and_sort_by_them() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let (_, coord) = app.user(2, "coordinator").await;
    let put = |token: &str, body: serde_json::Value| {
        let (app, token) = (&app, token.to_owned());
        async move { app.call(Method::PUT, "/api/v1/custom-fields", Some(&token), Some(body)).await }
    };
    assert_eq!(put(&coord, json!({"version": 0, "fields": definitions()})).await.status, StatusCode::FORBIDDEN);
    let r = put(&app.admin, json!({"version": 0, "fields": [{"key": "Bad Key", "label": "x", "kind": "text"}]})).await;
    assert_eq!((r.status, r.field_names()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["fields[0].key".to_owned()]));
    let bad = json!({"version": 0, "fields": [{"key": "a", "label": "A", "kind": "text"},
        {"key": "site", "label": "", "kind": "choice"}]});
    let r = put(&app.admin, bad).await;
    assert_eq!(r.field_names(), ["fields[1].label", "fields[1].options"]);
    let r = put(&app.admin, json!({"version": 0, "fields": definitions()})).await;
    assert_eq!((r.status, r.body["version"].clone()), (StatusCode::OK, json!(1)), "{:?}", r.body);
    let r = put(&app.admin, json!({"version": 0, "fields": definitions()})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // Requesters read the definitions they see (not the internal one).
    let r = app.get("/api/v1/custom-fields", &emp).await;
    let keys: Vec<_> = r.body["fields"].as_array().unwrap().iter().map(|f| f["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["site", "asset_tag", "needed_by", "os"]);

    // Filing: the requester's own fields, typed and checked.
    let file = |token: &str, fields: serde_json::Value| {
        let (app, token) = (&app, token.to_owned());
        async move {
            app.post(
                "/api/v1/tickets",
                &token,
                json!({"subject": "Dock", "category": "hardware", "sub_category": "laptop",
                       "description": "It flickers.", "fields": fields}),
            )
            .await
        }
    };
    let r = file(&emp, json!({"asset_tag": "LT-1"})).await;
    assert_eq!(r.field_names(), ["fields.site"]);
    let r = file(&emp, json!({"site": "Berlin", "cost": 4})).await;
    assert_eq!(r.field_names(), ["fields.cost"]);
    let r = file(&emp, json!({"site": "Berlin", "asset_tag": "LT-1"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["fields"], json!({"site": "Berlin", "asset_tag": "LT-1"}));
    let first = r.body["number"].as_str().unwrap().to_owned();
    let second =
        file(&coord, json!({"site": "Lisbon", "cost": "99.5", "needed_by": "2031-01-31", "os": ["mac", "linux"]}))
            .await;
    assert_eq!(second.status, StatusCode::CREATED, "{:?}", second.body);
    assert_eq!(second.body["fields"]["os"], json!(["linux", "mac"]));
    assert_eq!(second.body["fields"]["cost"], json!(99.5));
    let second = second.body["number"].as_str().unwrap().to_owned();

    // Staff edit (null clears); requesters do not; internal values stay with staff.
    let patch = |token: &str, n: &str, fields: serde_json::Value| {
        let (app, token, path) = (&app, token.to_owned(), format!("/api/v1/tickets/{n}"));
        async move { app.call(Method::PATCH, &path, Some(&token), Some(json!({"fields": fields}))).await }
    };
    assert_eq!(patch(&emp, &first, json!({"asset_tag": "LT-2"})).await.status, StatusCode::FORBIDDEN);
    let r = patch(&coord, &first, json!({"cost": 12, "asset_tag": null, "needed_by": "31/01/2031"})).await;
    assert_eq!(r.field_names(), ["fields.needed_by"]);
    let r = patch(&coord, &first, json!({"cost": 12, "asset_tag": null})).await;
    assert_eq!(r.body["fields"], json!({"site": "Berlin", "cost": 12}), "{:?}", r.body);
    let mine = app.get(&format!("/api/v1/tickets/{first}"), &emp).await;
    assert_eq!(mine.body["fields"], json!({"site": "Berlin"}));
    let h = app.get(&format!("/api/v1/tickets/{first}/history"), &emp).await;
    assert!(!h.body.to_string().contains("fields.cost"), "{:?}", h.body);

    // Lists: filter by value (multiple choice: options all chosen), sort by a number.
    let list = |token: &str, query: &str| {
        let (app, token, path) = (&app, token.to_owned(), format!("/api/v1/tickets?{query}"));
        async move { app.get(&path, &token).await }
    };
    let numbers = |r: &common::Resp| -> Vec<String> {
        r.body["items"].as_array().unwrap().iter().map(|t| t["number"].as_str().unwrap().to_owned()).collect()
    };
    let enc = |s: &str| {
        s.replace('{', "%7B")
            .replace('}', "%7D")
            .replace('"', "%22")
            .replace(':', "%3A")
            .replace(',', "%2C")
            .replace('[', "%5B")
            .replace(']', "%5D")
    };
    let r = list(&coord, &format!("fields={}", enc(r#"{"site":"berlin"}"#))).await;
    assert_eq!(numbers(&r), vec![first.clone()], "{:?}", r.body);
    let r = list(&coord, &format!("fields={}", enc(r#"{"os":["mac"]}"#))).await;
    assert_eq!(numbers(&r), vec![second.clone()]);
    let r = list(&coord, "sort=field:cost&order=asc").await;
    assert_eq!(numbers(&r), [first.clone(), second.clone()]);
    let r = list(&coord, "sort=field:site").await;
    assert_eq!(r.field_names(), ["sort"]);
    let r = list(&emp, &format!("fields={}", enc(r#"{"cost":12}"#))).await;
    assert_eq!(r.field_names(), ["fields.cost"], "employees cannot filter by an internal field");
    let r = list(&coord, "fields=site").await;
    assert_eq!(r.field_names(), ["fields"]);

    // The CSV export has a column per field.
    let csv = app.get("/api/v1/reports/tickets.csv?sort=number&order=asc", &app.admin).await;
    let text = csv.body.as_str().unwrap();
    let mut lines = text.lines();
    assert!(
        lines.next().unwrap().ends_with(",tags,field.site,field.asset_tag,field.cost,field.needed_by,field.os"),
        "{text}"
    );
    assert!(lines.next().unwrap().ends_with(",Berlin,,12,,"), "{text}");
    assert!(lines.next().unwrap().ends_with(",Lisbon,,99.5,2031-01-31,\"linux, mac\""), "{text}");

    // Retired: kept on tickets, refused on new ones; a removal or a kind change is refused.
    let mut defs = definitions();
    defs[1]["retired"] = json!(true);
    let r = put(&app.admin, json!({"version": 1, "fields": defs})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = file(&emp, json!({"site": "Berlin", "asset_tag": "LT-9"})).await;
    assert_eq!(r.field_names(), ["fields.asset_tag"]);
    let mut defs = definitions();
    defs[2]["kind"] = json!("text");
    defs.as_array_mut().unwrap().remove(4);
    let r = put(&app.admin, json!({"version": 2, "fields": defs})).await;
    assert_eq!(r.field_names(), ["fields[2].kind", "fields"]);
}
