//! Bulk changes over HTTP: one request tags many tickets, each its own unit of work (an
//! unknown or forbidden ticket is reported and the others change), a bad edit changes
//! nothing, and an `Idempotency-Key` replays the recorded answer instead of a second run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::json;

async fn bulk(app: &TestApp, token: &str, key: Option<&str>, body: serde_json::Value) -> common::Resp {
    match key {
        None => app.call(Method::POST, "/api/v1/tickets/bulk", Some(token), Some(body)).await,
        Some(k) => {
            app.call_with(
                Method::POST,
                "/api/v1/tickets/bulk",
                Some(token),
                Some(body),
                &[("idempotency-key", k)],
                None,
            )
            .await
        }
    }
}

#[tokio::test]
async fn each_ticket_is_its_own_unit_of_work_and_the_answer_says_what_happened_to_it() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let mut numbers = Vec::new();
    for i in 0..4 {
        numbers.push(app.ticket(&emp, &format!("Laptop {i}")).await);
    }
    // One already carries the tag.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/tickets/{}", numbers[3]),
            Some(&app.admin),
            Some(json!({"add_tags": ["vip"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut asked = numbers.clone();
    asked.push("TX9999".into());
    let r = bulk(&app, &app.admin, None, json!({"numbers": asked, "add_tags": ["VIP"], "priority": "high"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(r.body["changed"], 4, "{:?}", r.body);
    assert!(items[..4].iter().all(|i| i["outcome"] == "changed"), "{items:?}");
    assert_eq!(
        (items[4]["number"].clone(), items[4]["outcome"].clone(), items[4]["code"].clone()),
        (json!("TX9999"), json!("refused"), json!("not_found"))
    );
    for n in &numbers {
        let t = app.get(&format!("/api/v1/tickets/{n}"), &app.admin).await;
        assert_eq!((t.body["tags"].clone(), t.body["priority"].clone()), (json!(["vip"]), json!("high")), "{n}");
    }
    // Again: nothing to change.
    let r = bulk(&app, &app.admin, None, json!({"numbers": numbers, "add_tags": ["vip"]})).await;
    assert!(r.body["items"].as_array().unwrap().iter().all(|i| i["outcome"] == "unchanged"), "{:?}", r.body);

    // The requester may change none of them (the default policy keeps tags for staff), and
    // may not even learn whether another employee's ticket exists.
    let (_, other) = app.user(2, "employee").await;
    let theirs = app.ticket(&other, "Theirs").await;
    let r = bulk(&app, &emp, None, json!({"numbers": [numbers[0], theirs], "remove_tags": ["vip"]})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let codes: Vec<&str> = r.body["items"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
    assert_eq!(codes, vec!["forbidden", "not_found"]);
}

#[tokio::test]
async fn a_bad_edit_changes_nothing_and_names_the_field() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let n = app.ticket(&emp, "Printer").await;
    for (body, field) in [
        (json!({"numbers": [n], "add_tags": ["ok", "not,ok"]}), "add_tags"),
        (json!({"numbers": [n], "priority": "urgent"}), "priority"),
        (json!({"numbers": [], "add_tags": ["ok"]}), "numbers"),
        (json!({"numbers": ["not a number"], "add_tags": ["ok"]}), "numbers"),
        (json!({"numbers": [n]}), "edit"),
    ] {
        let r = bulk(&app, &app.admin, None, body.clone()).await;
        assert_eq!((r.status, r.field_names()), (StatusCode::UNPROCESSABLE_ENTITY, vec![field.to_owned()]), "{body}");
    }
    let many: Vec<String> = (1..=1001).map(|i| format!("TX{i:04}")).collect();
    let r = bulk(&app, &app.admin, None, json!({"numbers": many, "add_tags": ["ok"]})).await;
    assert_eq!(r.field_names(), vec!["numbers"]);
    let t = app.get(&format!("/api/v1/tickets/{n}"), &app.admin).await;
    assert_eq!((t.body["version"].clone(), t.body["tags"].clone()), (json!(1), json!([])));
}

#[tokio::test]
async fn an_idempotency_key_replays_the_answer_instead_of_a_second_run() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let a = app.ticket(&emp, "One").await;
    let b = app.ticket(&emp, "Two").await;
    let body = json!({"numbers": [a, b], "add_tags": ["floor-3"]});
    let first = bulk(&app, &app.admin, Some("bulk-1"), body.clone()).await;
    assert_eq!((first.body["changed"].clone(), first.body["replayed"].clone()), (json!(2), json!(false)));
    // Someone takes the tag off one ticket; the replay must not put it back.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/tickets/{a}"),
            Some(&app.admin),
            Some(json!({"remove_tags": ["floor-3"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let again = bulk(&app, &app.admin, Some("bulk-1"), body.clone()).await;
    assert_eq!(again.body["replayed"], true, "{:?}", again.body);
    assert_eq!(again.body["items"], first.body["items"]);
    let t = app.get(&format!("/api/v1/tickets/{a}"), &app.admin).await;
    assert_eq!(t.body["tags"], json!([]), "the replay applied nothing");
    // The same key with another body is refused.
    let other = bulk(&app, &app.admin, Some("bulk-1"), json!({"numbers": [a], "add_tags": ["x"]})).await;
    assert!(other.status.is_client_error() && other.status != StatusCode::OK, "{:?}", other.status);
}

#[tokio::test]
async fn a_macro_or_an_action_goes_to_many_tickets_and_each_is_all_or_nothing() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let (_, coord) = app.user(2, "coordinator").await;
    let mut numbers = Vec::new();
    for i in 0..3 {
        numbers.push(app.ticket(&emp, &format!("Phone {i}")).await);
    }
    // Accept two at once; the third is rejected first, so the lifecycle refuses it alone.
    let r = app.post(&format!("/api/v1/tickets/{}/reject", numbers[2]), &coord, json!({"reason": "duplicate"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = bulk(&app, &coord, None, json!({"numbers": numbers, "action": "approve", "priority": "low"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["changed"], 2, "{:?}", r.body);
    assert_eq!(
        (r.body["items"][2]["outcome"].clone(), r.body["items"][2]["code"].clone()),
        (json!("refused"), json!("conflict"))
    );
    for n in &numbers[..2] {
        let t = app.get(&format!("/api/v1/tickets/{n}"), &coord).await;
        assert_eq!((t.body["status"].as_str(), t.body["priority"].as_str()), (Some("open"), Some("low")));
    }

    // A macro on all three: each ticket is all or nothing; a retry with the key writes no
    // second reply.
    let m = app
        .post(
            "/api/v1/macros",
            &coord,
            json!({"name": "Take and greet", "comment": "On it, {{requester.first_name}}.", "action": "claim"}),
        )
        .await;
    assert_eq!(m.status, StatusCode::CREATED, "{:?}", m.body);
    let id = m.body["id"].as_str().unwrap();
    let body = json!({"numbers": numbers, "macro_id": id});
    let r = bulk(&app, &coord, Some("greet-1"), body.clone()).await;
    assert_eq!(r.body["changed"], 2, "{:?}", r.body);
    assert_eq!(r.body["items"][2]["outcome"], "refused", "a rejected ticket cannot be claimed: {:?}", r.body);
    let rejected = app.get(&format!("/api/v1/tickets/{}/comments", numbers[2]), &coord).await;
    assert!(rejected.body.as_array().unwrap().is_empty(), "the refused ticket got no reply: {:?}", rejected.body);
    let again = bulk(&app, &coord, Some("greet-1"), body).await;
    assert_eq!(again.body["replayed"], true);
    for n in &numbers[..2] {
        let c = app.get(&format!("/api/v1/tickets/{n}/comments"), &emp).await;
        assert_eq!(c.body.as_array().unwrap().len(), 1, "{n}: {:?}", c.body);
        assert_eq!(c.body[0]["body"], "On it, Test.");
    }
    // A macro goes alone; an unknown macro is not found before anything is written.
    let r = bulk(&app, &coord, None, json!({"numbers": numbers, "macro_id": id, "add_tags": ["x"]})).await;
    assert_eq!((r.status, r.field_names()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["macro_id".to_owned()]));
    let unknown = uuid::Uuid::new_v4().to_string();
    let r = bulk(&app, &coord, None, json!({"numbers": numbers, "macro_id": unknown})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
}

#[tokio::test]
async fn a_filter_picks_the_tickets_and_a_retry_answers_the_first_run_even_when_it_changed_the_match() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let mut numbers = Vec::new();
    for i in 0..3 {
        numbers.push(app.ticket(&emp, &format!("Monitor {i}")).await);
    }
    for n in &numbers[..2] {
        let r = app
            .call(
                Method::PATCH,
                &format!("/api/v1/tickets/{n}"),
                Some(&app.admin),
                Some(json!({"add_tags": ["batch"]})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    // Every ticket tagged `batch`: take the tag away and mark them; the third is untouched.
    let body = json!({"filter": {"tags_any": ["batch"]}, "remove_tags": ["batch"], "add_tags": ["done"]});
    let r = bulk(&app, &app.admin, Some("by-filter-1"), body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["changed"], 2, "{:?}", r.body);
    let t = app.get(&format!("/api/v1/tickets/{}", numbers[2]), &app.admin).await;
    assert_eq!(t.body["tags"], json!([]));
    // The filter now matches nothing, yet the retry answers the recorded result.
    let again = bulk(&app, &app.admin, Some("by-filter-1"), body.clone()).await;
    assert_eq!((again.status, again.body["replayed"].clone()), (StatusCode::OK, json!(true)), "{:?}", again.body);
    // Without the key it matches nothing now: said so, nothing written.
    let r = bulk(&app, &app.admin, None, body).await;
    assert_eq!((r.status, r.field_names()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["filter".to_owned()]));
    // Numbers and a filter at once, or neither: refused.
    let r = bulk(&app, &app.admin, None, json!({"numbers": [numbers[0]], "filter": {}, "add_tags": ["x"]})).await;
    assert_eq!(r.field_names(), vec!["filter".to_owned()]);
    let r = bulk(&app, &app.admin, None, json!({"add_tags": ["x"]})).await;
    assert_eq!(r.field_names(), vec!["numbers".to_owned()]);
    // An employee's filter reaches only their own tickets (their list scope).
    let (_, other) = app.user(2, "employee").await;
    let theirs = app.ticket(&other, "Mine").await;
    let r = bulk(&app, &emp, None, json!({"filter": {"statuses": ["new"]}, "add_tags": ["x"]})).await;
    let items = r.body["items"].as_array().unwrap_or_else(|| panic!("{:?}", r.body));
    assert!(items.iter().all(|i| i["number"] != theirs.as_str()), "{items:?}");
}
