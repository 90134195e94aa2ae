//! Two `helpdesk serve` processes on one PostgreSQL database, both running the service-level
//! alert loop every 200 ms: a ticket whose one-minute first-response target enters its warning
//! share (at 30 s) and then passes its due time (at 60 s) is alerted once each, not once per
//! process. Takes a little over a minute (the shortest target is a minute). Runs against the
//! throwaway cluster `scripts/test.sh` starts; skips loudly without one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{fresh_database, pg_missing as skip_reason, start_server_with};
use helpdesk_core::model::{NotificationKind, OutboxPayload, OutboxState};
use helpdesk_core::ports::{OutboxStore, PageSize};
use serde_json::json;

/// Every service-level alert in the outbox, in any state, as `(recipient, target/state)`.
async fn alerts(store: &helpdesk_storage_postgres::PgStore) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for state in [OutboxState::Pending, OutboxState::Delivered, OutboxState::Dead] {
        let page = store.list_outbox(state, None, PageSize::new(100).unwrap()).await.unwrap();
        for r in page.items {
            if let OutboxPayload::Mail(n) = r.message.payload
                && let NotificationKind::ServiceLevelAlert { alert, .. } = n.kind
            {
                out.push((n.to.to_string(), format!("{}/{}", alert.target.as_str(), alert.state.as_str())));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn two_processes_alert_each_warning_and_breach_once() {
    if let Some(why) = skip_reason() {
        helpdesk_core::testing::skip("two_processes_alert_each_warning_and_breach_once", &why);
        return;
    }
    let db = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("helpdesk.toml");
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .map(|d| format!(r#"{{ day = "{d}", hours = [{{ start = "00:00", end = "24:00" }}] }}"#))
        .join(", ");
    std::fs::write(
        &config,
        format!(
            "[sla]\nwarning_percent = 50\n\n[[sla.calendars]]\nkey = \"always\"\ntime_zone = \"UTC\"\nweek = [{days}]\n\n\
             [[sla.policies]]\nkey = \"standard\"\ncalendar = \"always\"\ntargets = [{{ first_response_minutes = 1 }}]\n"
        ),
    )
    .unwrap();
    let env = [("HELPDESK_CONFIG", config.to_str().unwrap()), ("HELPDESK_SLA_ALERT_INTERVAL_MS", "200")];
    let a = start_server_with(&db, &env);
    common::wait_ready(&a.base.replace("/api/v1", "")).await;
    let b = start_server_with(&db, &env);
    common::wait_ready(&b.base.replace("/api/v1", "")).await;

    let c = reqwest::Client::new();
    let token = common::sign_in(&c, &a.base, "admin@example.com", common::SERVER_ADMIN_PASSWORD).await;
    let r = c
        .post(format!("{}/tickets", a.base))
        .bearer_auth(&token)
        .json(&json!({"subject": "Server down", "category": "hardware", "sub_category": "laptop",
                      "description": "Nothing answers"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let filed = Instant::now();

    let store = helpdesk_storage_postgres::PgStore::connect(&db, &helpdesk_storage_postgres::PgOptions::default())
        .await
        .unwrap();
    let want = vec![
        ("admin@example.com".to_owned(), "first_response/breached".to_owned()),
        ("admin@example.com".to_owned(), "first_response/warning".to_owned()),
    ];
    loop {
        let got = alerts(&store).await;
        if got.len() >= want.len() || filed.elapsed() > Duration::from_secs(100) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Both processes ran several more rounds over the same moments by now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(alerts(&store).await, want);
    let r = c.get(format!("{}/tickets?sla=breached", b.base)).bearer_auth(&token).send().await.unwrap();
    let page: serde_json::Value = r.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["items"][0]["sla_state"], "breached");
}
