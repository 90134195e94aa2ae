//! Mail in over HTTP: a mail service posts raw messages with an `ingest_mail` key (a retry is
//! a duplicate, never a second ticket); other keys and users are refused; admins list, read
//! and run again what came in; the confirmation link works without signing in, once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{Resp, TestApp};
use helpdesk_core::model::{NotificationKind, OutboxPayload};
use serde_json::json;

async fn key(app: &TestApp, scopes: &[&str]) -> String {
    let r = app.post("/api/v1/api-keys", &app.admin, json!({"name": "mail service", "scopes": scopes})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["credential"].as_str().unwrap().to_owned()
}

async fn post_raw(app: &TestApp, auth: &str, raw: &str) -> Resp {
    let req = Request::post("/api/v1/mail/inbound")
        .header(header::AUTHORIZATION, auth)
        .header(header::CONTENT_TYPE, "message/rfc822")
        .body(Body::from(raw.to_owned()))
        .unwrap();
    app.send(req).await
}

fn message(id: &str, from: &str, dmarc: bool) -> String {
    let auth =
        if dmarc { "Authentication-Results: mx.desk.example; dmarc=pass header.from=example.com\r\n" } else { "" };
    format!(
        "{auth}From: {from}\r\nTo: support@desk.example\r\nSubject: Laptop will not boot\r\nMessage-ID: <{id}@example.com>\r\n\r\nIt beeps three times.\r\n"
    )
}

#[tokio::test]
async fn a_mail_service_posts_messages_and_a_retry_is_a_duplicate() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let credential = key(&app, &["ingest_mail"]).await;
    let auth = format!("ApiKey {credential}");

    let r = post_raw(&app, &auth, &message("a1", "user1@example.com", true)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((r.body["outcome"].as_str(), r.body["duplicate"].as_bool()), (Some("ticket"), Some(false)));
    let number = r.body["ticket"].as_str().unwrap().to_owned();
    let t = app.get(&format!("/api/v1/tickets/{number}"), &emp).await;
    assert_eq!(t.body["subject"], "Laptop will not boot");

    let again = post_raw(&app, &auth, &message("a1", "user1@example.com", true)).await;
    assert_eq!((again.body["duplicate"].as_bool(), &again.body["id"]), (Some(true), &r.body["id"]));
    let list = app.get("/api/v1/tickets", &emp).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1, "one ticket for two deliveries");
}

#[tokio::test]
async fn only_an_ingest_key_may_post_and_bad_input_is_named() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let read_key = key(&app, &["read_tickets"]).await;
    let raw = message("b1", "user1@example.com", true);
    assert_eq!(post_raw(&app, &format!("ApiKey {read_key}"), &raw).await.status, StatusCode::FORBIDDEN);
    assert_eq!(post_raw(&app, &format!("Bearer {emp}"), &raw).await.status, StatusCode::FORBIDDEN);
    assert_eq!(post_raw(&app, "ApiKey nope.nope", &raw).await.status, StatusCode::UNAUTHORIZED);
    let ingest = key(&app, &["ingest_mail"]).await;
    let r = post_raw(&app, &format!("ApiKey {ingest}"), "").await;
    assert_eq!((r.status, r.field_names()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["message".to_owned()]));
    // Nothing was recorded by any of them.
    let list = app.get("/api/v1/mail/inbound", &app.admin).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 0, "{:?}", list.body);
}

#[tokio::test]
async fn admins_list_read_and_run_again_and_the_sender_confirms_once() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let auth = format!("ApiKey {}", key(&app, &["ingest_mail"]).await);
    // No DMARC: held, and the sender is mailed a link.
    let raw = message("c1", "user1@example.com", false);
    let r = post_raw(&app, &auth, &raw).await;
    assert_eq!((r.body["outcome"].as_str(), r.body["reason"].as_str()), (Some("held"), Some("sender_unproven")));
    let id = r.body["id"].as_str().unwrap().to_owned();
    // Someone else's mail, for paging.
    post_raw(&app, &auth, &message("c2", "stranger@example.org", true)).await;

    assert_eq!(app.get("/api/v1/mail/inbound", &emp).await.status, StatusCode::FORBIDDEN);
    let held = app.get("/api/v1/mail/inbound?outcome=held&limit=1", &app.admin).await;
    assert_eq!(held.status, StatusCode::OK, "{:?}", held.body);
    let first = held.body["items"][0]["id"].as_str().unwrap().to_owned();
    let cursor = held.body["next_cursor"].as_str().unwrap().to_owned();
    let next = app.get(&format!("/api/v1/mail/inbound?outcome=held&limit=1&cursor={cursor}"), &app.admin).await;
    let second = next.body["items"][0]["id"].as_str().unwrap().to_owned();
    assert!([first.as_str(), second.as_str()].contains(&id.as_str()));
    assert!(next.body["next_cursor"].is_null());
    let bad = app.get("/api/v1/mail/inbound?outcome=lost", &app.admin).await;
    assert_eq!((bad.status, bad.field_names()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["outcome".to_owned()]));

    let req = Request::get(format!("/api/v1/mail/inbound/{id}/raw"))
        .header(header::AUTHORIZATION, format!("Bearer {}", app.admin))
        .body(Body::empty())
        .unwrap();
    let res = tower::ServiceExt::oneshot(app.router.clone(), req).await.unwrap();
    assert_eq!(res.headers()[header::CONTENT_TYPE], "message/rfc822");
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    assert_eq!(bytes, raw.as_bytes());

    // The link from the hold mail, without signing in.
    let token = app
        .store
        .outbox_records()
        .into_iter()
        .find_map(|r| match r.message.payload {
            OutboxPayload::Mail(n) => match n.kind {
                NotificationKind::MailHeld { confirm: Some(c), .. } => Some(c.token.expose().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .unwrap();
    let r = app.call(Method::POST, &format!("/api/v1/mail/confirm/{id}/not-a-token"), None, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.call(Method::POST, &format!("/api/v1/mail/confirm/{id}/{token}"), None, None).await;
    assert_eq!((r.status, r.body["outcome"].as_str()), (StatusCode::OK, Some("ticket")), "{:?}", r.body);
    let r = app.call(Method::POST, &format!("/api/v1/mail/confirm/{id}/{token}"), None, None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // Run again: only held or failed messages.
    let r = app.post(&format!("/api/v1/mail/inbound/{id}/rerun"), &app.admin, json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    let stranger = app.get("/api/v1/mail/inbound?outcome=held", &app.admin).await;
    let sid = stranger.body["items"][0]["id"].as_str().unwrap().to_owned();
    let r = app.post(&format!("/api/v1/mail/inbound/{sid}/rerun"), &app.admin, json!({})).await;
    assert_eq!((r.status, r.body["reason"].as_str()), (StatusCode::OK, Some("unknown_sender")), "{:?}", r.body);
}

#[tokio::test]
async fn the_confirmation_page_asks_first_and_files_on_the_button_once() {
    let app = TestApp::new().await;
    app.user(1, "employee").await;
    let auth = format!("ApiKey {}", key(&app, &["ingest_mail"]).await);
    let r = post_raw(&app, &auth, &message("d1", "user1@example.com", false)).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let token = app
        .store
        .outbox_records()
        .into_iter()
        .find_map(|r| match r.message.payload {
            OutboxPayload::Mail(n) => match n.kind {
                NotificationKind::MailHeld { confirm: Some(c), .. } => Some(c.token.expose().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .unwrap();
    let path = format!("/mail/confirm/{id}/{token}");
    let page = |method: &str, site: &str| {
        Request::builder()
            .method(method)
            .uri(&path)
            .header("sec-fetch-site", site)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::empty())
            .unwrap()
    };
    let r = app.send(page("GET", "none")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.as_str().unwrap().contains("Laptop will not boot"), "{:?}", r.body);
    // Opening it twice files nothing.
    assert_eq!(app.send(page("GET", "none")).await.status, StatusCode::OK);
    assert_eq!(app.send(page("POST", "cross-site")).await.status, StatusCode::FORBIDDEN);
    let r = app.send(page("POST", "same-origin")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.as_str().unwrap().contains("filed as ticket"), "{:?}", r.body);
    let r = app.send(page("POST", "same-origin")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app.send(Request::get(format!("/mail/confirm/{id}/forged")).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
