//! The whole story through the router (`oneshot`), and its variations: reject, withdraw,
//! reopen; passwords, invitations, admin work, API keys and the workflow route, catalog and
//! the OpenAPI document.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::{Method, StatusCode};
use common::{PASSWORD, TestApp};
use serde_json::json;

#[tokio::test]
async fn register_approve_file_triage_claim_wait_comment_resolve_close() {
    let app = TestApp::new().await;
    // Register: pending, cannot sign in yet (told why only with the right password).
    let r = app.register(1).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!((r.body["role"].as_str(), r.body["status"].as_str()), (Some("employee"), Some("pending")));
    let employee_id = r.body["id"].as_str().unwrap().to_owned();
    let pending = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "user1@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!((pending.status, pending.code()), (StatusCode::FORBIDDEN, "auth.account_pending"));

    // Admin approves; the employee signs in and files a ticket.
    let a = app.post(&format!("/api/v1/users/{employee_id}/approve"), &app.admin, json!({})).await;
    assert_eq!(a.status, StatusCode::OK);
    let (emp, _) = app.login("user1@example.com", PASSWORD).await;
    let (_, coord) = app.user(2, "coordinator").await;
    let number = app.ticket(&emp, "Laptop screen flickers").await;
    let t = app.get(&format!("/api/v1/tickets/{number}"), &emp).await;
    assert_eq!(t.body["status"], "new");
    assert_eq!(t.headers["etag"], format!("\"{}\"", t.body["version"]));
    assert!(t.body["actions"].as_array().unwrap().iter().any(|a| a == "withdraw"));

    // Coordinator approves, claims, asks the requester something.
    let path = |a: &str| format!("/api/v1/tickets/{number}/{a}");
    let r = app.post(&path("approve"), &coord, json!({"priority": "high", "department": "it"})).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("open")), "{:?}", r.body);
    assert!(r.body["first_response_at"].is_string());
    let r = app.post(&path("claim"), &coord, json!({})).await;
    assert_eq!(r.body["status"], "in_progress");
    let r = app.post(&path("await-requester"), &coord, json!({"comment": "Which dock model?"})).await;
    assert_eq!(r.body["status"], "pending", "{:?}", r.body);

    // The requester's public comment resumes it.
    let c = app.post(&path("comments"), &emp, json!({"body": "The USB-C one on floor 3."})).await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    let t = app.get(&format!("/api/v1/tickets/{number}"), &emp).await;
    assert_eq!(t.body["status"], "in_progress");

    // Resolved, then closed by the requester.
    let r = app.post(&path("resolve"), &coord, json!({"note": "Replaced the dock firmware."})).await;
    assert_eq!(r.body["status"], "resolved", "{:?}", r.body);
    assert!(r.body["resolution_secs"].is_number());
    let r = app.post(&path("close"), &emp, json!({})).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("closed")), "{:?}", r.body);

    // History has every step; mail went out on the steps that matter.
    let h = app.get(&path("history"), &emp).await;
    let actions: Vec<&str> = h.body.as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["submit", "approve", "claim", "await_requester", "resume", "resolve", "close"]);
    let kinds = app.mail_kinds("user1@example.com");
    for k in [
        "registration_received",
        "account_approved",
        "ticket_received",
        "ticket_approved",
        "waiting_on_requester",
        "ticket_resolved",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
}

#[tokio::test]
async fn reject_withdraw_and_reopen() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let (_, coord) = app.user(2, "coordinator").await;

    let n1 = app.ticket(&emp, "Need a second monitor").await;
    let r = app.post(&format!("/api/v1/tickets/{n1}/reject"), &coord, json!({})).await;
    assert_eq!((r.status, r.field_names()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["reason".to_owned()]));
    let r = app.post(&format!("/api/v1/tickets/{n1}/reject"), &coord, json!({"reason": "Budget freeze"})).await;
    assert_eq!(r.body["status"], "rejected");
    let seen = app.get(&format!("/api/v1/tickets/{n1}"), &emp).await;
    assert_eq!(seen.body["rejection_reason"], "Budget freeze");

    let n2 = app.ticket(&emp, "Printer jam").await;
    let r = app.post(&format!("/api/v1/tickets/{n2}/withdraw"), &emp, json!({"comment": "Fixed it myself"})).await;
    assert_eq!(r.body["status"], "withdrawn");
    let again = app.post(&format!("/api/v1/tickets/{n2}/withdraw"), &emp, json!({})).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "ticket.invalid_transition"));

    let n3 = app.ticket(&emp, "VPN drops").await;
    app.post(&format!("/api/v1/tickets/{n3}/approve"), &coord, json!({"priority": "medium"})).await;
    app.post(&format!("/api/v1/tickets/{n3}/claim"), &coord, json!({})).await;
    app.post(&format!("/api/v1/tickets/{n3}/resolve"), &coord, json!({"note": "New profile"})).await;
    let r = app.post(&format!("/api/v1/tickets/{n3}/reopen"), &emp, json!({"reason": "Dropped again"})).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("in_progress")), "{:?}", r.body);
    // What the employee's role can never do is 403 in role terms, whatever the status; what
    // the status forbids is 409.
    let r = app.post(&format!("/api/v1/tickets/{n3}/hold"), &emp, json!({"note": "x"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "ticket.action_forbidden"), "{:?}", r.body);
    let n4 = app.ticket(&emp, "Own ticket").await;
    let r = app.post(&format!("/api/v1/tickets/{n4}/approve"), &emp, json!({"priority": "low"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "ticket.action_forbidden"), "{:?}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("coordinator, admin"), "{:?}", r.body);
    let r = app.post(&format!("/api/v1/tickets/{n4}/reopen"), &emp, json!({"reason": "x"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "ticket.invalid_transition"), "{:?}", r.body);
}

#[tokio::test]
async fn lists_filter_sort_and_page_with_cursors() {
    let app = TestApp::new().await;
    let (emp_id, emp) = app.user(1, "employee").await;
    let (_, other) = app.user(2, "employee").await;
    let (_, coord) = app.user(3, "coordinator").await;
    for i in 0..7 {
        app.ticket(&emp, &format!("Mine {i}")).await;
    }
    let theirs = app.ticket(&other, "Theirs: keyboard").await;
    app.post(&format!("/api/v1/tickets/{theirs}/approve"), &coord, json!({"priority": "critical"})).await;

    // Employees see their own only, whatever they ask for.
    let r = app.get(&format!("/api/v1/tickets?limit=100&requester={}", uuid::Uuid::new_v4()), &emp).await;
    assert!(r.body["items"].as_array().unwrap().iter().all(|t| t["requester"] == emp_id.as_str()));
    // Paging is stable and complete.
    let mut seen = Vec::new();
    let mut url = "/api/v1/tickets?limit=3&sort=number&order=asc".to_owned();
    loop {
        let r = app.get(&url, &emp).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        seen.extend(r.body["items"].as_array().unwrap().iter().map(|t| t["number"].as_str().unwrap().to_owned()));
        match r.body["next_cursor"].as_str() {
            Some(c) => url = format!("/api/v1/tickets?limit=3&sort=number&order=asc&cursor={c}"),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!((seen.len(), seen.clone()), (7, sorted));
    // Staff filter by status, priority and text.
    let r = app.get("/api/v1/tickets?status=open&priority=critical,high&q=KEYBOARD", &coord).await;
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["number"], theirs.as_str());
    let r = app.get("/api/v1/tickets?assignee=none&status=new", &coord).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 7);
    // Bad filters name the parameter.
    let r = app.get("/api/v1/tickets?status=bogus", &coord).await;
    assert_eq!((r.status, r.field_names()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["status".to_owned()]));
    let r = app.get("/api/v1/tickets?limit=1000", &coord).await;
    assert_eq!(r.field_names(), vec!["limit".to_owned()]);
    let r = app.get("/api/v1/tickets?colour=red", &coord).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "request.invalid_query"));
}

#[tokio::test]
async fn idempotent_creation_replays_and_refuses_a_different_body() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let body = json!({"subject": "Mouse", "category": "hardware", "sub_category": "peripheral", "description": "Broken wheel"});
    let h = [("idempotency-key", "k-1")];
    let a = app.call_with(Method::POST, "/api/v1/tickets", Some(&emp), Some(body.clone()), &h, None).await;
    let b = app.call_with(Method::POST, "/api/v1/tickets", Some(&emp), Some(body.clone()), &h, None).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.body["number"], b.body["number"]);
    let mut other = body.clone();
    other["subject"] = json!("Keyboard");
    let c = app.call_with(Method::POST, "/api/v1/tickets", Some(&emp), Some(other), &h, None).await;
    assert_eq!((c.status, c.code()), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency.mismatch"));
    let list = app.get("/api/v1/tickets", &emp).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_retry_of_a_create_still_in_flight_is_told_when_to_come_back() {
    use helpdesk_core::ports::IdempotencyStore;
    use sha2::Digest;
    let app = TestApp::new().await;
    let (id, emp) = app.user(1, "employee").await;
    let body = json!({"subject": "Mouse", "category": "hardware", "sub_category": "peripheral", "description": "Broken wheel"});
    // The first attempt's record, as a process that died mid-request leaves it.
    let input = helpdesk_core::NewTicket {
        subject: "Mouse".into(),
        category: "hardware".into(),
        sub_category: "peripheral".into(),
        description: "Broken wheel".into(),
        scheduled_date: None,
        fields: Default::default(),
    };
    let hash: String =
        sha2::Sha256::digest(serde_json::to_string(&input).unwrap()).iter().map(|b| format!("{b:02x}")).collect();
    let key = helpdesk_core::ports::IdempotencyKey { principal: format!("user:{id}"), key: "k-9".into() };
    let now = chrono::Utc::now();
    app.store.begin_idempotent(&key, &hash, now, now - chrono::Duration::seconds(30)).await.unwrap();
    let r = app
        .call_with(Method::POST, "/api/v1/tickets", Some(&emp), Some(body), &[("idempotency-key", "k-9")], None)
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "idempotency.in_progress"), "{:?}", r.body);
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&wait), "Retry-After {wait}");
}

#[tokio::test]
async fn edits_follow_the_field_rules_and_if_match() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let (_, coord) = app.user(2, "coordinator").await;
    let n = app.ticket(&emp, "Old subject").await;
    let url = format!("/api/v1/tickets/{n}");
    let r = app
        .call_with(
            Method::PATCH,
            &url,
            Some(&emp),
            Some(json!({"subject": "New subject"})),
            &[("if-match", "\"1\"")],
            None,
        )
        .await;
    assert_eq!((r.status, r.body["subject"].as_str()), (StatusCode::OK, Some("New subject")), "{:?}", r.body);
    let stale = app
        .call_with(Method::PATCH, &url, Some(&emp), Some(json!({"subject": "Again"})), &[("if-match", "\"1\"")], None)
        .await;
    assert_eq!((stale.status, stale.code()), (StatusCode::PRECONDITION_FAILED, "resource.precondition_failed"));
    let r = app.call(Method::PATCH, &url, Some(&emp), Some(json!({"priority": "high"}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = app.call(Method::PATCH, &url, Some(&coord), Some(json!({"priority": "high"}))).await;
    assert_eq!((r.status, r.body["priority"].as_str()), (StatusCode::OK, Some("high")), "{:?}", r.body);
    let r = app.post(&format!("{url}/claim"), &coord, json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "claim needs approval first: {:?}", r.body);
}

#[tokio::test]
async fn passwords_reset_change_and_invitations() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let f =
        app.call(Method::POST, "/api/v1/auth/password/forgot", None, Some(json!({"email": "user1@example.com"}))).await;
    assert_eq!(f.status, StatusCode::ACCEPTED);
    let token = app.mailed_token("user1@example.com").unwrap();
    let new_password = "quiet-lantern-meadow-58";
    let r = app
        .call(
            Method::POST,
            "/api/v1/auth/password/reset",
            None,
            Some(json!({"token": token, "password": new_password})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(app.get("/api/v1/me", &emp).await.status, StatusCode::UNAUTHORIZED, "reset ends sessions");
    let again = app
        .call(
            Method::POST,
            "/api/v1/auth/password/reset",
            None,
            Some(json!({"token": token, "password": "x-other-pass-99-long"})),
        )
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "single use");
    let (t, _) = app.login("user1@example.com", new_password).await;
    let weak = app
        .post(
            "/api/v1/auth/password/change",
            &t,
            json!({"current_password": new_password, "new_password": "123456789012"}),
        )
        .await;
    assert_eq!((weak.status, weak.field_names()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["new_password".to_owned()]));
    let wrong = app
        .post(
            "/api/v1/auth/password/change",
            &t,
            json!({"current_password": "nope-nope-nope", "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(wrong.field_names(), vec!["current_password".to_owned()]);

    // An admin-created user sets their password through the mailed invitation.
    let c = app
        .post(
            "/api/v1/users",
            &app.admin,
            json!({"email": "new.hire@example.com", "first_name": "New", "last_name": "Hire", "role": "coordinator"}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    assert_eq!(c.body["role"], "coordinator");
    let inv = app.mailed_token("new.hire@example.com").unwrap();
    let r = app
        .call(
            Method::POST,
            "/api/v1/auth/invitation/accept",
            None,
            Some(json!({"token": inv, "password": "amber-tundra-signal-77"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    app.login("new.hire@example.com", "amber-tundra-signal-77").await;
}

#[tokio::test]
async fn a_generated_admin_password_must_be_changed_first() {
    let app = TestApp::new().await;
    let p = app
        .desk
        .ensure_admin(helpdesk_core::BootstrapAdmin {
            email: "root@example.com".into(),
            password: None,
            first_name: "Root".into(),
            last_name: "Admin".into(),
        })
        .await
        .unwrap()
        .unwrap();
    let (t, _) = app.login("root@example.com", p.expose()).await;
    let r = app.get("/api/v1/users", &t).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "auth.password_change_required"));
    // Reading one ticket takes another path through the store (session and ticket together).
    let r = app.get("/api/v1/tickets/TX0001", &t).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "auth.password_change_required"));
    assert_eq!(app.get("/api/v1/me", &t).await.status, StatusCode::OK);
    let r = app
        .post(
            "/api/v1/auth/password/change",
            &t,
            json!({"current_password": p.expose(), "new_password": "cobalt-river-anchor-31"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(app.get("/api/v1/users", &t).await.status, StatusCode::OK);
}

/// `GET /tickets/{n}` reads the session and the ticket in one store read: the session is still
/// checked first and in full, then the ticket as the caller may see it.
#[tokio::test]
async fn reading_one_ticket_checks_the_session_first_then_the_ticket() {
    let app = TestApp::new().await;
    let (_, alice) = app.user(1, "employee").await;
    let (_, bob) = app.user(2, "employee").await;
    let n = app.ticket(&alice, "Printer on fire").await;
    let path = format!("/api/v1/tickets/{n}");
    let r = app.get(&path, &alice).await;
    assert_eq!((r.status, r.body["number"].as_str()), (StatusCode::OK, Some(n.as_str())));
    // Someone else's ticket, a missing one and a malformed number: not found.
    assert_eq!(app.get(&path, &bob).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/tickets/TX9999", &alice).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/tickets/nope", &alice).await.status, StatusCode::NOT_FOUND);
    // No valid session: 401 whatever the number, before anything about the ticket is said.
    for p in [path.as_str(), "/api/v1/tickets/TX9999", "/api/v1/tickets/nope"] {
        assert_eq!(app.get(p, "not-a-token").await.status, StatusCode::UNAUTHORIZED);
    }
    let r = app.post("/api/v1/auth/logout", &alice, json!({})).await;
    assert!(r.status.is_success(), "{:?}", r.body);
    for p in [path.as_str(), "/api/v1/tickets/nope"] {
        let r = app.get(p, &alice).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "auth.session_ended"), "{p}");
    }
    // Staff see it with its actions.
    let r = app.get(&path, &app.admin).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["actions"].as_array().is_some_and(|a| !a.is_empty()), "{:?}", r.body);
}

#[tokio::test]
async fn admins_manage_users_rejections_and_read_the_audit_log() {
    let app = TestApp::new().await;
    let r = app.register(1).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let list = app.get("/api/v1/users?status=pending", &app.admin).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    let rej = app.post(&format!("/api/v1/users/{id}/reject"), &app.admin, json!({"reason": "Not an employee"})).await;
    assert_eq!((rej.status, rej.body["email"].as_str()), (StatusCode::OK, Some("user1@example.com")), "{:?}", rej.body);
    let recs = app.get("/api/v1/rejections", &app.admin).await;
    assert_eq!(recs.body["count"], 1);
    assert_eq!(app.register(1).await.status, StatusCode::CREATED, "the email may register again");

    let (uid, emp) = app.user(2, "employee").await;
    assert_eq!(app.get("/api/v1/users", &emp).await.status, StatusCode::FORBIDDEN);
    let d = app.post(&format!("/api/v1/users/{uid}/deactivate"), &app.admin, json!({})).await;
    assert_eq!(d.body["status"], "deactivated");
    let back = app.post(&format!("/api/v1/users/{uid}/reactivate"), &app.admin, json!({})).await;
    assert_eq!(back.body["status"], "approved");
    let audit = app.get("/api/v1/audit?limit=100", &app.admin).await;
    let kinds: Vec<&str> = audit.body["items"].as_array().unwrap().iter().filter_map(|a| a["kind"].as_str()).collect();
    assert!(kinds.contains(&"user_administered") && kinds.contains(&"access_denied"), "{kinds:?}");
    let only = app.get("/api/v1/audit?kind=access_denied", &app.admin).await;
    assert!(only.body["items"].as_array().unwrap().iter().all(|a| a["kind"] == "access_denied"));
    let staff = app.get("/api/v1/staff", &app.admin).await;
    assert!(!staff.body.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn an_external_system_reads_and_pushes_status_with_an_api_key() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let (_, coord) = app.user(2, "coordinator").await;
    let k = app
        .post("/api/v1/api-keys", &app.admin, json!({"name": "workflow", "scopes": ["read_tickets", "push_workflow"]}))
        .await;
    assert_eq!(k.status, StatusCode::CREATED, "{:?}", k.body);
    let key = format!("ApiKey {}", k.body["credential"].as_str().unwrap());
    let listed = app.get("/api/v1/api-keys", &app.admin).await;
    assert!(listed.body[0].get("secret_hash").is_none() && listed.body[0].get("credential").is_none());

    let n = app.ticket(&emp, "Access to budget share").await;
    app.post(&format!("/api/v1/tickets/{n}/approve"), &coord, json!({"priority": "low"})).await;
    let r = app.get(&format!("/api/v1/tickets/{n}"), &key).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let url = format!("/api/v1/workflow/tickets/{n}/status");
    let push = |status: &'static str, idem: &'static str| {
        let app = &app;
        let key = key.clone();
        let url = url.clone();
        async move {
            app.call_with(
                Method::POST,
                &url,
                Some(&key),
                Some(json!({"status": status, "note": "from workflow"})),
                &[("idempotency-key", idem)],
                None,
            )
            .await
        }
    };
    let r = push("in_progress", "e-1").await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("in_progress")), "{:?}", r.body);
    let replay = push("in_progress", "e-1").await;
    assert_eq!((replay.status, replay.body["version"].clone()), (StatusCode::OK, r.body["version"].clone()));
    let bad = push("new", "e-2").await;
    assert_eq!(bad.status, StatusCode::CONFLICT, "{:?}", bad.body);
    let h = app.get(&format!("/api/v1/tickets/{n}/history"), &coord).await;
    assert!(h.body.as_array().unwrap().iter().any(|e| e["actor"]["name"] == "workflow"));

    // The push scope reaches the workflow route only: the ordinary action routes (no
    // idempotency key, no note) answer 403 and change nothing.
    let before = app.get(&format!("/api/v1/tickets/{n}"), &coord).await.body["version"].clone();
    for (action, body) in [
        ("claim", json!({})),
        ("hold", json!({"note": "x"})),
        ("resolve", json!({"note": "x"})),
        ("close", json!({})),
        ("await-requester", json!({"comment": "x"})),
        ("resume", json!({})),
    ] {
        let r = app.post(&format!("/api/v1/tickets/{n}/{action}"), &key, body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{action}: {:?}", r.body);
    }
    assert_eq!(app.get(&format!("/api/v1/tickets/{n}"), &coord).await.body["version"], before);

    // Keys cannot act as users, and stop working when revoked.
    assert_eq!(app.post("/api/v1/tickets", &key, json!({})).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get("/api/v1/users", &key).await.status, StatusCode::FORBIDDEN);
    let id = k.body["key"]["id"].as_str().unwrap();
    assert_eq!(
        app.call(Method::DELETE, &format!("/api/v1/api-keys/{id}"), Some(&app.admin), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&format!("/api/v1/tickets/{n}"), &key).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn catalog_health_and_the_openapi_document() {
    let app = TestApp::new().await;
    let (_, emp) = app.user(1, "employee").await;
    let c = app.get("/api/v1/catalog", &emp).await;
    assert_eq!(c.status, StatusCode::OK);
    assert!(c.body["categories"].as_array().unwrap().iter().any(|c| c["key"] == "hardware"));
    assert_eq!(c.body["priorities"], json!(["critical", "high", "medium", "low"]));
    assert!(c.body["lifecycle"].as_array().unwrap().iter().any(|r| r["action"] == "await_requester"));

    assert_eq!(app.call(Method::GET, "/healthz", None, None).await.status, StatusCode::OK);
    assert_eq!(app.call(Method::GET, "/readyz", None, None).await.status, StatusCode::OK);
    // The router installs no metrics recorder and serves no metrics unless told to (see
    // tests/embedding.rs); the server does (tests/server.rs).
    assert_eq!(app.call(Method::GET, "/metrics", None, None).await.status, StatusCode::NOT_FOUND);

    let doc = app.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc.body["paths"].as_object().unwrap();
    for p in [
        "/auth/login",
        "/tickets",
        "/tickets/{number}/approve",
        "/tickets/{number}/await-requester",
        "/users/{id}/reject",
        "/workflow/tickets/{number}/status",
    ] {
        assert!(paths.contains_key(p), "{p} missing from the OpenAPI document");
    }
    // Every $ref resolves.
    let text = doc.body.to_string();
    for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = r.split('"').next().unwrap();
        assert!(doc.body["components"]["schemas"].get(name).is_some(), "dangling $ref {name}");
    }
    // Written out so scripts/test.sh can validate it with an OpenAPI validator.
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("openapi.json");
    std::fs::write(out, serde_json::to_vec_pretty(&doc.body).unwrap()).unwrap();
}
