//! `GET /api/v1/tickets/{number}/sla`: staff read where a ticket stands against its service
//! levels (the policy from the configuration, first response met at approval, resolution
//! running with its due time); employees are refused; without policies the answer is empty.
//! The `[sla]` configuration is checked at start-up with errors that name the key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::json;

/// The policy of these tests: first response within an hour, next response within two,
/// resolution within eight, on a calendar open all day.
async fn app() -> TestApp {
    TestApp::with_always_open_sla(
        json!({"first_response_minutes": 60, "next_response_minutes": 120, "resolution_minutes": 480}),
    )
    .await
}

/// An employee's ticket, approved as high priority in the IT department: `(employee's token,
/// number)`.
async fn approved_ticket(app: &TestApp) -> (String, String) {
    let (_, emp) = app.user(1, "employee").await;
    let n = app.ticket(&emp, "Laptop will not boot").await;
    let r = app
        .post(&format!("/api/v1/tickets/{n}/approve"), &app.admin, json!({"priority": "high", "department": "it"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    (emp, n)
}

#[tokio::test]
async fn staff_read_a_tickets_service_levels() {
    let app = app().await;
    let (emp, n) = approved_ticket(&app).await;

    let r = app.get(&format!("/api/v1/tickets/{n}/sla"), &app.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["policy"], "standard");
    assert_eq!(r.body["calendar"], "always");
    let targets = r.body["targets"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> =
        targets.iter().map(|t| (t["kind"].as_str().unwrap(), t["state"].as_str().unwrap())).collect();
    assert_eq!(kinds, [("first_response", "met"), ("resolution", "ok")]);
    assert_eq!(targets[1]["target_minutes"], 480);
    assert!(targets[1]["due_at"].as_str().unwrap().ends_with('Z'), "{targets:?}");

    let r = app.get(&format!("/api/v1/tickets/{n}/sla"), &emp).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
}

#[tokio::test]
async fn admins_read_the_service_level_report() {
    let app = app().await;
    let (emp, _) = approved_ticket(&app).await;
    let r = app.get("/api/v1/reports/sla", &app.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["tickets"], 1);
    assert_eq!(
        r.body["overall"]["first_response"],
        json!({"met": 1, "breached": 0, "running": 0, "achievement_per_mille": 1000})
    );
    assert_eq!(r.body["by_policy"]["standard"]["resolution"]["running"], 1);
    assert_eq!(r.body["by_priority"]["high"]["first_response"]["met"], 1);
    assert_eq!(r.body["breaches"], json!([]));
    let r = app.get("/api/v1/reports/sla?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", &app.admin).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(app.get("/api/v1/reports/sla", &emp).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn without_policies_a_ticket_has_no_targets() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let n = app.ticket(&emp, "Printer").await;
    let r = app.get(&format!("/api/v1/tickets/{n}/sla"), &app.admin).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"policy": null, "calendar": null, "targets": []}));
}

#[test]
fn a_bad_sla_configuration_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("helpdesk.toml");
    std::fs::write(
        &file,
        r#"
[[sla.calendars]]
key = "office"
time_zone = "Europe/Atlantis"
week = [{ day = "mon", hours = [{ start = "09:00", end = "17:00" }] }]

[[sla.policies]]
key = "standard"
calendar = "office"
targets = [{ priority = "critical", first_response_minutes = 30 }, { resolution_minutes = 2400 }]
"#,
    )
    .unwrap();
    let e = helpdesk_http::Config::load(Some(&file)).unwrap_err().to_string();
    assert!(e.contains("sla.calendars[0].time_zone"), "{e}");
    std::fs::write(&file, std::fs::read_to_string(&file).unwrap().replace("Europe/Atlantis", "Europe/Berlin")).unwrap();
    let config = helpdesk_http::Config::load(Some(&file)).unwrap();
    config.validate().unwrap();
    assert_eq!(config.sla.policies[0].targets.len(), 2);
}

#[tokio::test]
async fn the_ticket_export_carries_service_levels_when_there_are_policies() {
    let app = app().await;
    approved_ticket(&app).await;
    let req = axum::http::Request::builder()
        .uri("/api/v1/reports/tickets.csv")
        .header("authorization", format!("Bearer {}", app.admin))
        .body(axum::body::Body::empty())
        .unwrap();
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().ends_with(",sla_policy,sla_first_response,sla_next_response,sla_resolution"));
    assert!(lines.next().unwrap().ends_with(",standard,met,,ok"), "{text}");
}

/// The list sorts by due time and filters by it for staff: `sort=due` lists the tickets with a
/// running target, soonest first; `sla=breached` those past due (none yet); `due_before` those
/// due before a time. Each staff row carries `sla_due_at` and `sla_state`; employees see
/// neither and may not sort or filter by them; a bad value names the field.
#[tokio::test]
async fn staff_list_tickets_due_soonest() {
    let app = app().await;
    let (_, emp) = app.user(1, "employee").await;
    let answered = app.ticket(&emp, "Answered first").await;
    let waiting = app.ticket(&emp, "Still waiting").await;
    let r = app
        .post(
            &format!("/api/v1/tickets/{answered}/approve"),
            &app.admin,
            json!({"priority": "high", "department": "it"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let r = app.get("/api/v1/tickets?sort=due", &app.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let items = r.body["items"].as_array().unwrap();
    let numbers: Vec<&str> = items.iter().map(|t| t["number"].as_str().unwrap()).collect();
    assert_eq!(numbers, [waiting.as_str(), answered.as_str()], "first response (1 h) before resolution (8 h)");
    assert_eq!(items[0]["sla_state"], "ok");
    assert!(items[0]["sla_due_at"].as_str().unwrap().ends_with('Z'));

    let r = app.get("/api/v1/tickets?sla=breached", &app.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["items"], json!([]));
    let soon = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let r = app.get(&format!("/api/v1/tickets?due_before={soon}"), &app.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let numbers: Vec<&str> =
        r.body["items"].as_array().unwrap().iter().map(|t| t["number"].as_str().unwrap()).collect();
    assert_eq!(numbers, [waiting.as_str()]);

    let r = app.get("/api/v1/tickets", &emp).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("sla_state").is_none() && t.get("sla_due_at").is_none())
    );
    assert_eq!(app.get("/api/v1/tickets?sort=due", &emp).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/v1/tickets?sla=breached", &emp).await.status, StatusCode::FORBIDDEN);
    let r = app.get("/api/v1/tickets?sla=late", &app.admin).await;
    assert_eq!((r.status, r.field_names()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["sla".to_owned()]));
}

/// Admins read and replace the calendars and policies: a policy naming a missing calendar is
/// refused naming the field, a save names the version it replaces (a stale one is a
/// conflict), and what is saved applies to the next ticket at once. Others may not.
#[tokio::test]
async fn admins_replace_the_policies_through_the_api() {
    let app = app().await;
    let (_, emp) = app.user(1, "employee").await;
    let r = app.get("/api/v1/admin/sla", &app.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["version"], 0);
    assert_eq!(r.body["sla"]["policies"][0]["key"], "standard");

    let mut sla = r.body["sla"].clone();
    sla["policies"] = json!([
        {"key": "fast", "calendar": "nowhere", "targets": [{"first_response_minutes": 15}]}
    ]);
    let put = |body| app.call(axum::http::Method::PUT, "/api/v1/admin/sla", Some(&app.admin), Some(body));
    let r = put(json!({"version": 0, "sla": sla.clone()})).await;
    assert_eq!(
        (r.status, r.field_names()),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["sla.policies[0].calendar".to_owned()])
    );

    sla["policies"][0]["calendar"] = json!("always");
    let r = put(json!({"version": 0, "sla": sla.clone()})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["version"], 1);
    let r = put(json!({"version": 0, "sla": sla.clone()})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(app.get("/api/v1/admin/sla", &app.admin).await.body["sla"]["policies"][0]["key"], "fast");

    let n = app.ticket(&emp, "Laptop will not boot").await;
    let r = app.get(&format!("/api/v1/tickets/{n}/sla"), &app.admin).await;
    assert_eq!(r.body["policy"], "fast", "{:?}", r.body);
    assert_eq!(r.body["targets"][0]["target_minutes"], 15);

    assert_eq!(app.get("/api/v1/admin/sla", &emp).await.status, StatusCode::FORBIDDEN);
    let r = app
        .call(axum::http::Method::PUT, "/api/v1/admin/sla", Some(&emp), Some(json!({"version": 1, "sla": sla})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
