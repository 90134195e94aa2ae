//! The attacks of the issue, each through the router: forged and stale tokens, refresh
//! reuse, sessions that ended, other people's tickets, mass assignment on every write route,
//! internal content, stale `If-Match`, malformed bodies, user enumeration, throttling.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use common::{PASSWORD, TestApp};
use helpdesk_core::domain::{SessionId, UserId};
use helpdesk_http::TokenSigner;
use helpdesk_http::throttle::AddressLimits;
use serde_json::json;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

#[tokio::test]
async fn forged_expired_and_misused_tokens_are_refused() {
    let app = TestApp::new().await;
    let (uid, emp) = app.user(1, "employee").await;
    assert_eq!(app.get("/api/v1/me", &emp).await.status, StatusCode::OK);

    // alg: none with the same claims.
    let parts: Vec<&str> = emp.split('.').collect();
    let none = format!("{}.{}.", b64().encode(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    let r = app.get("/api/v1/me", &none).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "auth.invalid_token"));
    assert_eq!(r.headers["www-authenticate"], "Bearer");

    // Tampered payload (another user's id), original signature.
    let mut claims: serde_json::Value = serde_json::from_slice(&b64().decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = json!(UserId::random().to_string());
    let tampered = format!("{}.{}.{}", parts[0], b64().encode(claims.to_string()), parts[2]);
    assert_eq!(app.get("/api/v1/me", &tampered).await.status, StatusCode::UNAUTHORIZED);

    // Expired: signed with the right key an hour ago.
    let signer = TokenSigner::new(common::token_options());
    let sid: SessionId = claims["sid"].as_str().unwrap().parse().unwrap();
    let old = signer.issue(uid.parse().unwrap(), sid, chrono::Utc::now() - chrono::Duration::hours(1)).unwrap();
    assert_eq!(app.get("/api/v1/me", &old).await.status, StatusCode::UNAUTHORIZED);

    // A valid signature for a session that does not exist.
    let ghost = signer.issue(uid.parse().unwrap(), SessionId::random(), chrono::Utc::now()).unwrap();
    assert_eq!(app.get("/api/v1/me", &ghost).await.status, StatusCode::UNAUTHORIZED);

    // An access token is not a refresh token; no token in the URL either.
    let r = app.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": emp}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "auth.invalid_token"));
    let r = app.call(Method::GET, &format!("/api/v1/me?access_token={emp}"), None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app.call(Method::GET, "/api/v1/me", None, None).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "auth.missing_credentials"));
}

#[tokio::test]
async fn refresh_rotates_and_reuse_ends_the_whole_session() {
    let app = TestApp::new().await;
    app.user(1, "employee").await;
    let (_, r0) = app.login("user1@example.com", PASSWORD).await;
    let first = app.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": r0}))).await;
    assert_eq!(first.status, StatusCode::OK);
    let (a1, r1) = (
        first.body["access_token"].as_str().unwrap().to_owned(),
        first.body["refresh_token"].as_str().unwrap().to_owned(),
    );
    assert_eq!(app.get("/api/v1/me", &a1).await.status, StatusCode::OK);
    // Reusing the old refresh token revokes the family: the rotated tokens die too.
    let reuse = app.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": r0}))).await;
    assert_eq!((reuse.status, reuse.code()), (StatusCode::UNAUTHORIZED, "auth.refresh_reused"));
    assert_eq!(app.get("/api/v1/me", &a1).await.status, StatusCode::UNAUTHORIZED);
    let r = app.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": r1}))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tokens_stop_working_after_logout_deactivation_and_act_on_role_changes_at_once() {
    let app = TestApp::new().await;
    let (uid, emp) = app.user(1, "employee").await;
    let (second, _) = app.login("user1@example.com", PASSWORD).await;
    assert_eq!(app.call(Method::POST, "/api/v1/auth/logout", Some(&emp), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/v1/me", &emp).await.status, StatusCode::UNAUTHORIZED, "after logout");
    let r = app.get("/api/v1/me", &second).await;
    assert_eq!(r.status, StatusCode::OK, "other sessions live on: {:?}", r.body);

    assert_eq!(app.get("/api/v1/users", &second).await.status, StatusCode::FORBIDDEN);
    app.call(Method::PATCH, &format!("/api/v1/users/{uid}/role"), Some(&app.admin), Some(json!({"role": "admin"})))
        .await;
    assert_eq!(app.get("/api/v1/users", &second).await.status, StatusCode::OK, "role read from storage per request");
    app.call(Method::PATCH, &format!("/api/v1/users/{uid}/role"), Some(&app.admin), Some(json!({"role": "employee"})))
        .await;
    assert_eq!(app.get("/api/v1/users", &second).await.status, StatusCode::FORBIDDEN, "and taken away as fast");

    app.post(&format!("/api/v1/users/{uid}/deactivate"), &app.admin, json!({})).await;
    assert_eq!(app.get("/api/v1/me", &second).await.status, StatusCode::UNAUTHORIZED, "after deactivation");
    let r = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "user1@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "auth.account_deactivated"));
}

#[tokio::test]
async fn another_employees_ticket_is_not_found_on_every_route() {
    let app = TestApp::new().await;
    let (_, alice) = app.user(1, "employee").await;
    let (_, bob) = app.user(2, "employee").await;
    let n = app.ticket(&alice, "Alice's private matter").await;
    for (m, path, body) in [
        (Method::GET, format!("/api/v1/tickets/{n}"), None),
        (Method::GET, format!("/api/v1/tickets/{n}/history"), None),
        (Method::GET, format!("/api/v1/tickets/{n}/comments"), None),
        (Method::POST, format!("/api/v1/tickets/{n}/comments"), Some(json!({"body": "hi"}))),
        (Method::PATCH, format!("/api/v1/tickets/{n}"), Some(json!({"subject": "mine now"}))),
        (Method::POST, format!("/api/v1/tickets/{n}/withdraw"), Some(json!({}))),
        (Method::GET, "/api/v1/tickets/TX9999".to_owned(), None),
        (Method::GET, "/api/v1/tickets/not-a-number".to_owned(), None),
    ] {
        let r = app.call(m.clone(), &path, Some(&bob), body).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "resource.not_found"), "{m} {path}");
    }
    let list = app.get("/api/v1/tickets", &bob).await;
    assert!(list.body["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn mass_assignment_is_refused_on_every_write_route() {
    let app = TestApp::new().await;
    let (uid, emp) = app.user(1, "employee").await;
    let (_, coord) = app.user(2, "coordinator").await;
    let n = app.ticket(&emp, "Mass assignment probe").await;

    let mut reg = json!({"email": "x@example.com", "password": PASSWORD, "first_name": "X", "last_name": "Y", "company_id": "MA7777"});
    for (field, value) in [("role", json!("admin")), ("status", json!("approved"))] {
        reg[field] = value.clone();
        let r = app.call(Method::POST, "/api/v1/auth/register", None, Some(reg.clone())).await;
        assert_eq!(
            (r.status, r.field_names()),
            (StatusCode::UNPROCESSABLE_ENTITY, vec![field.to_owned()]),
            "register {field}"
        );
        reg.as_object_mut().unwrap().remove(field);
    }
    let ticket = json!({"subject": "s", "category": "hardware", "sub_category": "laptop", "description": "d"});
    let u = uuid::Uuid::new_v4().to_string();
    let probes: Vec<(Method, String, &str, serde_json::Value, &str)> = vec![
        (Method::POST, "/api/v1/tickets".into(), "status", ticket.clone(), "open"),
        (Method::POST, "/api/v1/tickets".into(), "requester", ticket.clone(), &u),
        (Method::POST, "/api/v1/tickets".into(), "number", ticket.clone(), "TX0001"),
        (Method::PATCH, format!("/api/v1/tickets/{n}"), "status", json!({}), "closed"),
        (Method::PATCH, format!("/api/v1/tickets/{n}"), "number", json!({}), "TX0001"),
        (Method::PATCH, format!("/api/v1/tickets/{n}"), "requester", json!({}), &u),
        (Method::PATCH, format!("/api/v1/tickets/{n}"), "resolved_at", json!({}), "2020-01-01T00:00:00Z"),
        (Method::PATCH, "/api/v1/me".into(), "role", json!({}), "admin"),
        (Method::PATCH, "/api/v1/me".into(), "status", json!({}), "approved"),
        (Method::PATCH, "/api/v1/me".into(), "email", json!({}), "boss@example.com"),
        (Method::POST, format!("/api/v1/tickets/{n}/comments"), "author", json!({"body": "b"}), &u),
        (Method::POST, format!("/api/v1/tickets/{n}/withdraw"), "status", json!({}), "closed"),
        (
            Method::POST,
            "/api/v1/auth/password/change".into(),
            "role",
            json!({"current_password": PASSWORD, "new_password": "zz-yy-xx-ww-vv-11"}),
            "admin",
        ),
    ];
    for (m, path, field, mut body, value) in probes {
        body[field] = json!(value);
        let r = app.call(m.clone(), &path, Some(&emp), Some(body)).await;
        assert_eq!(
            (r.status, r.field_names()),
            (StatusCode::UNPROCESSABLE_ENTITY, vec![field.to_owned()]),
            "{m} {path} {field}"
        );
    }
    let r =
        app.post(&format!("/api/v1/tickets/{n}/approve"), &coord, json!({"priority": "low", "status": "closed"})).await;
    assert_eq!(r.field_names(), vec!["status".to_owned()]);
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{uid}/role"),
            Some(&app.admin),
            Some(json!({"status": "approved"})),
        )
        .await;
    assert_eq!(r.field_names(), vec!["status".to_owned()]);
    let me = app.get("/api/v1/me", &emp).await;
    assert_eq!((me.body["role"].as_str(), me.body["email"].as_str()), (Some("employee"), Some("user1@example.com")));
}

#[tokio::test]
async fn internal_comments_and_events_are_invisible_to_employees() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let (_, coord) = app.user(2, "coordinator").await;
    let n = app.ticket(&emp, "Salary system access").await;
    let r = app
        .post(
            &format!("/api/v1/tickets/{n}/comments"),
            &coord,
            json!({"body": "Check with HR first", "internal": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    app.post(&format!("/api/v1/tickets/{n}/comments"), &coord, json!({"body": "We are on it"})).await;
    let r = app.post(&format!("/api/v1/tickets/{n}/comments"), &emp, json!({"body": "sneaky", "internal": true})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "employees cannot write internal comments");

    let staff = app.get(&format!("/api/v1/tickets/{n}/comments"), &coord).await;
    assert_eq!(staff.body.as_array().unwrap().len(), 2);
    let mine = app.get(&format!("/api/v1/tickets/{n}/comments"), &emp).await;
    let bodies: Vec<&str> = mine.body.as_array().unwrap().iter().map(|c| c["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["We are on it"]);
    let h = app.get(&format!("/api/v1/tickets/{n}/history"), &emp).await;
    assert!(h.body.as_array().unwrap().iter().all(|e| e["internal"] == false));
    assert!(!h.body.to_string().contains("Check with HR"));
    let staff_h = app.get(&format!("/api/v1/tickets/{n}/history"), &coord).await;
    assert!(staff_h.body.as_array().unwrap().iter().any(|e| e["internal"] == true));
    assert!(!app.mail_kinds("user1@example.com").is_empty());
    let mails = format!("{:?}", app.store.outbox_records());
    assert!(!mails.contains("Check with HR"), "internal content never enqueued");

    // Delivered and rendered: no mail to the employee carries the internal comment.
    let mailer = std::sync::Arc::new(helpdesk_mail::InMemoryMailer::new(helpdesk_mail::MailSettings::default()));
    let dispatcher = helpdesk_core::OutboxDispatcher::new(
        app.store.clone(),
        mailer.clone(),
        helpdesk_core::testing::RecordingWorkflowSink::new(),
        std::sync::Arc::new(helpdesk_core::ports::SystemClock),
        helpdesk_core::OutboxOptions::default(),
    );
    while dispatcher.run_once().await.unwrap().claimed > 0 {}
    let to_employee: Vec<_> =
        mailer.sent().into_iter().filter(|m| m.notification.to.as_str() == "user1@example.com").collect();
    assert!(to_employee.iter().any(|m| m.rendered.text.contains("We are on it")), "the public comment is mailed");
    for m in &to_employee {
        assert!(!m.rendered.text.contains("Check with HR") && !m.rendered.html.contains("Check with HR"));
    }
}

#[tokio::test]
async fn stale_if_match_is_412_and_a_stale_write_without_it_409() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let (_, coord) = app.user(2, "coordinator").await;
    let n = app.ticket(&emp, "Stale probe").await;
    let url = format!("/api/v1/tickets/{n}/approve");
    let r = app
        .call_with(Method::POST, &url, Some(&coord), Some(json!({"priority": "low"})), &[("if-match", "\"7\"")], None)
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::PRECONDITION_FAILED, "resource.precondition_failed"));
    let r = app
        .call_with(Method::POST, &url, Some(&coord), Some(json!({"priority": "low"})), &[("if-match", "garbage")], None)
        .await;
    // Not a tag this API gave: a malformed header, as the document's pattern says.
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "request.malformed_if_match"));
    let r = app
        .call_with(Method::POST, &url, Some(&coord), Some(json!({"priority": "low"})), &[("if-match", "W/\"1\"")], None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn malformed_bodies_get_problem_details() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let raw = |ct: &'static str, body: &'static str| {
        let req = axum::http::Request::builder()
            .method(Method::POST)
            .uri("/api/v1/tickets")
            .header("authorization", format!("Bearer {emp}"))
            .header("content-type", ct)
            .body(axum::body::Body::from(body))
            .unwrap();
        app.send(req)
    };
    let r = raw("application/json", "{not json").await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "request.malformed_json"));
    assert_eq!(r.headers["content-type"], "application/problem+json");
    let r = raw("text/plain", "{}").await;
    assert_eq!((r.status, r.code()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "request.unsupported_media_type"));
    let r = raw("application/json", r#"{"subject": 5}"#).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = raw("application/json", r#"{"subject":"","category":"nope","sub_category":"x","description":""}"#).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation.failed"));
    let fields = r.field_names();
    assert!(fields.contains(&"subject".to_owned()) && fields.contains(&"description".to_owned()), "{fields:?}");
    let big = "x".repeat(200 * 1024);
    let r = app.post("/api/v1/tickets", &emp, json!({"subject": big})).await;
    assert_eq!((r.status, r.code()), (StatusCode::PAYLOAD_TOO_LARGE, "request.too_large"));
    let r = app.call(Method::GET, "/api/v1/nothing-here", Some(&emp), None).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "resource.not_found"));
    let r = app.call(Method::DELETE, "/api/v1/tickets", Some(&emp), None).await;
    assert_eq!((r.status, r.code()), (StatusCode::METHOD_NOT_ALLOWED, "request.method_not_allowed"));
    // Every response carries the security headers and a request id.
    for h in [
        "x-content-type-options",
        "x-frame-options",
        "content-security-policy",
        "referrer-policy",
        "x-request-id",
        "cache-control",
    ] {
        assert!(r.headers.contains_key(h), "{h}");
    }
}

#[tokio::test]
async fn forgot_password_and_login_do_not_reveal_which_emails_exist() {
    let app = TestApp::new().await;
    app.user(1, "employee").await;
    let forgot = |email: &'static str| {
        app.call(Method::POST, "/api/v1/auth/password/forgot", None, Some(json!({"email": email})))
    };
    let (known, unknown) = (forgot("user1@example.com").await, forgot("nobody@example.com").await);
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));

    let login = |email: &'static str, pw: &'static str| {
        app.call(Method::POST, "/api/v1/auth/login", None, Some(json!({"email": email, "password": pw})))
    };
    let before = app.hasher.verifications.load(Ordering::SeqCst);
    let wrong = login("user1@example.com", "wrong-password-123").await;
    let after_wrong = app.hasher.verifications.load(Ordering::SeqCst);
    let ghost = login("nobody@example.com", "wrong-password-123").await;
    let after_ghost = app.hasher.verifications.load(Ordering::SeqCst);
    assert_eq!((wrong.status, &wrong.body), (ghost.status, &ghost.body), "identical responses");
    assert_eq!(after_wrong - before, 1, "a known email costs one verification");
    assert_eq!(after_ghost - after_wrong, 1, "an unknown email costs one verification too");
}

#[tokio::test]
async fn logins_registrations_and_resets_are_throttled_per_address_and_per_account() {
    let app =
        TestApp::with_limits(AddressLimits { logins_per_minute: 3, registrations_per_hour: 2, resets_per_hour: 2 })
            .await;
    let peer: SocketAddr = "203.0.113.9:5000".parse().unwrap();
    let other: SocketAddr = "203.0.113.10:5000".parse().unwrap();
    let login = |p: SocketAddr| {
        app.call_with(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "a@example.com", "password": "x-wrong-x"})),
            &[],
            Some(p),
        )
    };
    for _ in 0..3 {
        assert_eq!(login(peer).await.status, StatusCode::UNAUTHORIZED);
    }
    let r = login(peer).await;
    assert_eq!((r.status, r.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert!(r.headers["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(login(other).await.status, StatusCode::UNAUTHORIZED, "another address is not throttled");

    let reg = |n: u32| {
        let body = json!({"email": format!("r{n}@example.com"), "password": PASSWORD, "first_name": "R", "last_name": "R", "company_id": format!("MA{:04}", 3000 + n)});
        app.call_with(Method::POST, "/api/v1/auth/register", None, Some(body), &[], Some(peer))
    };
    assert_eq!(reg(1).await.status, StatusCode::CREATED);
    assert_eq!(reg(2).await.status, StatusCode::CREATED);
    assert_eq!(reg(3).await.status, StatusCode::TOO_MANY_REQUESTS);
    let forgot = || {
        app.call_with(
            Method::POST,
            "/api/v1/auth/password/forgot",
            None,
            Some(json!({"email": "r1@example.com"})),
            &[],
            Some(peer),
        )
    };
    forgot().await;
    forgot().await;
    assert_eq!(forgot().await.status, StatusCode::TOO_MANY_REQUESTS);

    // Per account (stored, so every instance sees it): after 5 failures, from any address.
    let app = TestApp::new().await;
    app.user(1, "employee").await;
    for i in 0..5u8 {
        let p: SocketAddr = format!("198.51.100.{i}:1").parse().unwrap();
        let r = app
            .call_with(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"email": "user1@example.com", "password": "nope-nope-nope"})),
                &[],
                Some(p),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "user1@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "even the right password waits: {:?}", r.body);
    assert!(r.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn denials_are_audited_with_the_caller() {
    let app = TestApp::new().await;
    let (uid, emp) = app.user(1, "employee").await;
    assert_eq!(app.get("/api/v1/audit", &emp).await.status, StatusCode::FORBIDDEN);
    let audit = app.get("/api/v1/audit?kind=access_denied", &app.admin).await;
    let e = &audit.body["items"][0];
    assert_eq!((e["actor"]["user"].as_str(), e["target"].as_str()), (Some(uid.as_str()), Some("GET /api/v1/audit")));
}
