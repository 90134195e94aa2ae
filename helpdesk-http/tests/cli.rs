//! The `helpdesk` binary's admin commands on a sled data directory: import the original
//! system's employees (Django `dumpdata`, PBKDF2 hashes kept), create an admin and an API key;
//! then the server composed on the same directory signs the imported users in.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use tower::ServiceExt as _;

fn helpdesk(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_helpdesk"))
        .args(args)
        .env("HELPDESK_DATA_DIR", dir)
        .env("HELPDESK_PASSWORD_HASH__MEMORY_KIB", "64")
        .env("HELPDESK_PASSWORD_HASH__ITERATIONS", "1")
        .env("HELPDESK_LOG", "warn")
        .env_remove("HELPDESK_STORAGE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "helpdesk {args:?} failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

#[tokio::test]
async fn import_admin_and_api_key_commands_then_imported_users_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/smartsupport-employees.json");
    let out = helpdesk(dir.path(), &["users", "import", fixture]);
    assert!(out.contains("7 imported, 0 already present, 1 skipped"), "{out}");
    assert!(out.contains("gloria.bautista@example.com"), "the rejected row is reported: {out}");
    let again = helpdesk(dir.path(), &["users", "import", fixture]);
    assert!(again.contains("0 imported, 7 already present"), "idempotent: {again}");

    let out = helpdesk(dir.path(), &["admin", "create", "--email", "ops@example.com"]);
    assert!(out.contains("temporary password"), "{out}");
    let out = helpdesk(dir.path(), &["api-key", "create", "--name", "workflow", "--scopes", "read_tickets"]);
    let credential =
        out.lines().find_map(|l| l.trim().strip_prefix("send it as:  Authorization: ApiKey ")).unwrap().to_owned();
    let listed = helpdesk(dir.path(), &["api-key", "list"]);
    assert!(listed.contains("workflow") && listed.contains("active"), "{listed}");

    let config = helpdesk_http::Config {
        data_dir: dir.path().to_path_buf(),
        password_hash: helpdesk_http::config::PasswordHashConfig { memory_kib: 64, iterations: 1 },
        ..helpdesk_http::Config::default()
    };
    let app = helpdesk_http::server::compose(&config).await.unwrap();
    let router = helpdesk_http::router(app.state.clone());
    let login = |email: &'static str, password: &'static str| {
        common::call_router(
            &router,
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
    };
    let (s, body) = login("dominic.reyes@example.com", "gravel-tundra-piano-15").await;
    assert_eq!((s, body["user"]["role"].as_str()), (StatusCode::OK, Some("employee")), "{body}");
    assert_eq!(body["user"]["company_id"], "MA0004");
    let (s, body) = login("benedict.ramos@example.com", "violet-canyon-ember-38").await;
    assert_eq!(
        (s, body["user"]["role"].as_str(), body["user"]["department"].as_str()),
        (StatusCode::OK, Some("coordinator"), Some("it"))
    );
    // Mixed-case email, legacy company id, a password the policy now refuses.
    let (s, body) = login("hector.aquino@example.com", "1234").await;
    assert_eq!((s, body["user"]["must_change_password"].as_bool()), (StatusCode::OK, Some(true)), "{body}");
    assert_eq!(body["user"]["company_id"], "ZZ9");
    let (s, body) = login("felix.mendoza@example.com", "copper-willow-falcon-27").await;
    assert_eq!((s, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("auth.account_pending")));
    let (s, _) = login("gloria.bautista@example.com", "meadow-signal-prism-53").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "rejected rows are not imported");

    let (s, _) =
        common::call_router(&router, "GET", "/api/v1/tickets", Some(&format!("ApiKey {credential}")), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) =
        common::call_router(&router, "GET", "/api/v1/tickets", Some(&format!("ApiKey {credential}x")), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cors_answers_configured_origins_only() {
    let dir = tempfile::tempdir().unwrap();
    let config = helpdesk_http::Config {
        data_dir: dir.path().to_path_buf(),
        cors_origins: vec!["https://desk.example.com".into()],
        attachments_url: Some("memory://".into()),
        password_hash: helpdesk_http::config::PasswordHashConfig { memory_kib: 64, iterations: 1 },
        ..helpdesk_http::Config::default()
    };
    let app = helpdesk_http::server::compose(&config).await.unwrap();
    let router = helpdesk_http::router(app.state.clone());
    for (origin, allowed) in [("https://desk.example.com", true), ("https://evil.example.com", false)] {
        let req = Request::builder()
            .method("OPTIONS")
            .uri("/api/v1/tickets")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type")
            .body(Body::empty())
            .unwrap();
        let res = router.clone().oneshot(req).await.unwrap();
        let allow = res.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(allow.as_deref() == Some(origin), allowed, "{origin}: {allow:?}");
    }
}
