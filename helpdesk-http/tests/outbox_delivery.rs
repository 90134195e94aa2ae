//! Outbox delivery through the server against real peers: a request succeeds while the SMTP
//! server is down and its mail arrives once it is back; refusals end dead (permanent at once,
//! temporary after the configured attempts) and an admin can retry them; a server killed
//! between commit and delivery delivers after restart; the webhook receiver gets every event
//! at least once with a valid signature; two dispatchers on one PostgreSQL never deliver one
//! message at the same time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::http::StatusCode;
use helpdesk_core::domain::MessageId;
use helpdesk_core::model::Notification;
use helpdesk_core::ports::{DeliveryError, Mailer, UnitOfWork};
use helpdesk_http::config::{AdminConfig, Config, PasswordHashConfig, Secret};
use helpdesk_mail::testing::{Behaviour, SmtpServer, free_port, smtp_missing, wait_for};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const ADMIN_PASSWORD: &str = "harbor-lantern-quartz-71";

fn config(dir: &std::path::Path) -> Config {
    let mut c = Config {
        data_dir: dir.to_path_buf(),
        dispatch_interval_ms: 50,
        password_hash: PasswordHashConfig { memory_kib: 64, iterations: 1 },
        bootstrap_admin: Some(AdminConfig {
            email: "admin@example.com".into(),
            password: Some(Secret::new(ADMIN_PASSWORD)),
            first_name: "Ada".into(),
            last_name: "Admin".into(),
        }),
        ..Config::default()
    };
    c.outbox.base_backoff_secs = 0;
    c.outbox.max_backoff_secs = 1;
    c.outbox.lease_secs = 10;
    c.outbox.delivery_timeout_secs = 5;
    c
}

struct Running {
    router: axum::Router,
    stop: CancellationToken,
    admin: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn run(config: &Config) -> Running {
    let app = helpdesk_http::server::compose(config).await.unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(helpdesk_http::server::background(
        app.state.clone(),
        app.mailer.clone(),
        app.workflow.clone(),
        Duration::from_millis(config.dispatch_interval_ms),
        Duration::from_millis(config.sla_alert_interval_ms),
        stop.clone(),
    ));
    let router = helpdesk_http::router(app.state.clone());
    let (s, login) = common::call_router(
        &router,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(json!({"email": "admin@example.com", "password": ADMIN_PASSWORD})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{login}");
    Running { router, stop, admin: login["access_token"].as_str().unwrap().to_owned() }
}

async fn register(r: &Running, n: u32) -> (StatusCode, Duration) {
    let started = Instant::now();
    let (s, body) = common::call_router(
        &r.router,
        "POST",
        "/api/v1/auth/register",
        None,
        Some(
            json!({"email": format!("eve{n}@example.com"), "password": "granite-harbor-willow-64", "first_name": "Eve",
                    "last_name": format!("Stone{n}"), "company_id": format!("MA{:04}", 500 + n)}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    (s, started.elapsed())
}

async fn outbox(r: &Running, state: &str) -> Vec<Value> {
    let (s, body) = common::call_router(
        &r.router,
        "GET",
        &format!("/api/v1/admin/outbox?state={state}&limit=100"),
        Some(&r.admin),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn wait_outbox(r: &Running, state: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let items = outbox(r, state).await;
        if pred(&items) || Instant::now() > deadline {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

macro_rules! require_smtp {
    ($name:literal) => {
        if let Some(why) = smtp_missing() {
            helpdesk_core::testing::skip($name, &why);
            return;
        }
    };
}

#[tokio::test]
async fn with_the_smtp_server_down_requests_succeed_and_mail_arrives_once_it_is_back() {
    require_smtp!("with_the_smtp_server_down_requests_succeed_and_mail_arrives_once_it_is_back");
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    let port = free_port();
    let mut c = config(&dir.path().join("data"));
    c.mail.smtp_url = Some(Secret::new(format!("smtp://127.0.0.1:{port}")));
    let r = run(&c).await;

    let (_, took) = register(&r, 1).await;
    assert!(took < Duration::from_secs(2), "the request does not wait for SMTP ({took:?})");
    // An attempt is counted when it is claimed and its error written when it fails: wait for both.
    let failed = |m: &serde_json::Value| m["attempts"].as_u64() >= Some(1) && m["last_error"].is_string();
    let pending = wait_outbox(&r, "pending", |i| i.iter().any(failed)).await;
    let m = pending
        .iter()
        .find(|m| m["kind"] == "registration_received" && failed(m))
        .unwrap_or_else(|| panic!("{pending:?}"));
    assert!(m["last_error"].as_str().unwrap().contains("SMTP"), "{m}");

    let server = SmtpServer::start(port, Behaviour::Accept, &maildir);
    let got = wait_for(&maildir, Duration::from_secs(15), |g| g.iter().any(|m| m.contains("eve1@example.com"))).await;
    assert!(got.iter().any(|m| m.contains("registration received")), "mail arrived after the server came back");
    let delivered = wait_outbox(&r, "delivered", |i| !i.is_empty()).await;
    assert_eq!(delivered[0]["kind"], "registration_received");
    server.stop();
}

#[tokio::test]
async fn refused_mail_ends_dead_and_an_admin_retry_delivers_it() {
    require_smtp!("refused_mail_ends_dead_and_an_admin_retry_delivers_it");
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    let port = free_port();
    let mut c = config(&dir.path().join("data"));
    c.mail.smtp_url = Some(Secret::new(format!("smtp://127.0.0.1:{port}")));
    c.outbox.max_attempts = 3;
    let r = run(&c).await;

    // Temporary refusals: dead after the configured attempts.
    let temp = SmtpServer::start(port, Behaviour::RejectTemporarily, &maildir);
    register(&r, 1).await;
    let dead = wait_outbox(&r, "dead", |i| !i.is_empty()).await;
    assert_eq!((dead.len(), dead[0]["attempts"].as_u64()), (1, Some(3)), "{dead:?}");
    temp.stop();

    // Permanent refusal: dead at once.
    let perm = SmtpServer::start(port, Behaviour::RejectPermanently, &maildir);
    register(&r, 2).await;
    let dead = wait_outbox(&r, "dead", |i| i.len() == 2).await;
    let second = dead.iter().find(|m| m["recipient"] == "eve2@example.com").unwrap();
    assert_eq!(second["attempts"], 1, "{second}");
    perm.stop();

    // An admin retries both once the server accepts mail again.
    let _ok = SmtpServer::start(port, Behaviour::Accept, &maildir);
    for m in &dead {
        let (s, _) = common::call_router(
            &r.router,
            "POST",
            &format!("/api/v1/admin/outbox/{}/retry", m["id"].as_str().unwrap()),
            Some(&r.admin),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
    }
    let got = wait_for(&maildir, Duration::from_secs(15), |g| g.len() >= 2).await;
    assert_eq!(got.len(), 2);
    let (s, _) = common::call_router(
        &r.router,
        "POST",
        &format!("/api/v1/admin/outbox/{}/retry", MessageId::random()),
        Some(&r.admin),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_server_killed_between_commit_and_delivery_delivers_after_restart() {
    require_smtp!("a_server_killed_between_commit_and_delivery_delivers_after_restart");
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    let smtp_port = free_port();
    let spawn = || {
        let addr: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_helpdesk"))
            .arg("serve")
            .env("HELPDESK_LISTEN", addr.to_string())
            .env("HELPDESK_DATA_DIR", dir.path().join("data"))
            .env("HELPDESK_MAIL__SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}"))
            .env("HELPDESK_DISPATCH_INTERVAL_MS", "50")
            .env("HELPDESK_OUTBOX__BASE_BACKOFF_SECS", "0")
            .env("HELPDESK_OUTBOX__MAX_BACKOFF_SECS", "1")
            // A claim held by the killed process expires quickly, as a crash recovery would.
            .env("HELPDESK_OUTBOX__LEASE_SECS", "3")
            .env("HELPDESK_OUTBOX__DELIVERY_TIMEOUT_SECS", "2")
            .env("HELPDESK_PASSWORD_HASH__MEMORY_KIB", "64")
            .env("HELPDESK_PASSWORD_HASH__ITERATIONS", "1")
            .env("HELPDESK_LOG", "warn")
            .env_remove("HELPDESK_STORAGE_URL")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        (child, format!("http://{addr}"))
    };
    let client = reqwest::Client::new();
    let (mut first, base) = spawn();
    common::wait_ready(&base).await;
    let r = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"email": "kim@example.com", "password": "granite-harbor-willow-64", "first_name": "Kim",
                      "last_name": "Lee", "company_id": "MA0777"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    first.kill().unwrap(); // SIGKILL: committed, never delivered (SMTP is down)
    first.wait().unwrap();

    let _smtp = SmtpServer::start(smtp_port, Behaviour::Accept, &maildir);
    let (mut second, base) = spawn();
    common::wait_ready(&base).await;
    let got = wait_for(&maildir, Duration::from_secs(30), |g| g.iter().any(|m| m.contains("kim@example.com"))).await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert!(got.iter().any(|m| m.contains("kim@example.com") && m.contains("registration received")));
}

#[derive(Default)]
struct Receiver {
    seen: Mutex<Vec<(String, bool)>>,
    failed_once: Mutex<HashSet<String>>,
}

#[tokio::test]
async fn the_webhook_receiver_gets_every_event_signed_at_least_once() {
    let receiver = Arc::new(Receiver::default());
    let secret = "webhook-secret-0123456789";
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let receiver = receiver.clone();
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let receiver = receiver.clone();
                async move {
                    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    let (id, ts) = (h("x-helpdesk-event-id"), h("x-helpdesk-timestamp").parse::<i64>().unwrap_or(0));
                    let valid = helpdesk_mail::webhook::verify_signature(
                        secret.as_bytes(),
                        &id,
                        ts,
                        &body,
                        &h("x-helpdesk-signature"),
                    );
                    receiver.seen.lock().unwrap().push((id.clone(), valid));
                    // Fail the first delivery of every event: the sink must retry.
                    if receiver.failed_once.lock().unwrap().insert(id) {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::OK
                    }
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.workflow.webhook_url = Some(format!("http://{addr}/hook"));
    c.workflow.webhook_secret = Some(Secret::new(secret));
    let r = run(&c).await;
    register(&r, 1).await;
    let users = common::call_router(&r.router, "GET", "/api/v1/users?status=pending", Some(&r.admin), None).await.1;
    let id = users["items"][0]["id"].as_str().unwrap().to_owned();
    common::call_router(&r.router, "POST", &format!("/api/v1/users/{id}/approve"), Some(&r.admin), None).await;
    let (_, login) = common::call_router(
        &r.router,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(json!({"email": "eve1@example.com", "password": "granite-harbor-willow-64"})),
    )
    .await;
    let emp = login["access_token"].as_str().unwrap().to_owned();
    let (_, t) = common::call_router(
        &r.router,
        "POST",
        "/api/v1/tickets",
        Some(&emp),
        Some(json!({"subject": "VPN", "category": "network", "sub_category": "vpn", "description": "Drops hourly"})),
    )
    .await;
    let n = t["number"].as_str().unwrap().to_owned();
    let (s, _) = common::call_router(
        &r.router,
        "POST",
        &format!("/api/v1/tickets/{n}/approve"),
        Some(&r.admin),
        Some(json!({"priority": "high"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    common::call_router(&r.router, "POST", &format!("/api/v1/tickets/{n}/claim"), Some(&r.admin), None).await;

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let seen = receiver.seen.lock().unwrap().clone();
        let delivered: HashSet<&String> =
            seen.iter().map(|(id, _)| id).filter(|id| seen.iter().filter(|(x, _)| x == *id).count() >= 2).collect();
        if delivered.len() >= 2 || Instant::now() > deadline {
            assert!(seen.iter().all(|(_, valid)| *valid), "every signature verifies");
            let unique: HashSet<&String> = seen.iter().map(|(id, _)| id).collect();
            assert_eq!(unique.len(), 2, "opened + status change, de-duplicated by event id: {seen:?}");
            assert_eq!(delivered.len(), 2, "each retried after the 503 and accepted: {seen:?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Detects two deliveries of one message at the same time.
#[derive(Debug, Default)]
struct OverlapDetector {
    in_flight: Mutex<HashSet<MessageId>>,
    delivered: Mutex<HashMap<MessageId, u32>>,
    overlaps: AtomicUsize,
}

#[async_trait]
impl Mailer for OverlapDetector {
    async fn send(&self, id: MessageId, _: &Notification) -> Result<(), DeliveryError> {
        if !self.in_flight.lock().unwrap().insert(id) {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
        *self.delivered.lock().unwrap().entry(id).or_default() += 1;
        self.in_flight.lock().unwrap().remove(&id);
        Ok(())
    }
}

#[tokio::test]
async fn two_dispatchers_on_one_postgresql_never_deliver_a_message_at_the_same_time() {
    if let Some(why) = common::pg_missing() {
        helpdesk_core::testing::skip(
            "two_dispatchers_on_one_postgresql_never_deliver_a_message_at_the_same_time",
            &why,
        );
        return;
    }
    use helpdesk_storage_postgres::{PgOptions, PgStore};
    let url = common::fresh_database().await;
    let a = Arc::new(PgStore::connect(&url, &PgOptions::default()).await.unwrap());
    a.migrate().await.unwrap();
    let b = Arc::new(PgStore::connect(&url, &PgOptions::default()).await.unwrap());
    let now = chrono::Utc::now();
    let total = 400;
    for chunk in 0..(total / 50) {
        let mut uow = UnitOfWork::new();
        for _ in 0..50 {
            uow.outbox.push(helpdesk_core::testing::fixtures::mail(now - chrono::Duration::seconds(chunk)));
        }
        helpdesk_core::ports::UnitOfWorkStore::commit(&*a, uow).await.unwrap();
    }
    let mailer = Arc::new(OverlapDetector::default());
    let sink = helpdesk_core::testing::RecordingWorkflowSink::new();
    let options = helpdesk_core::OutboxOptions { batch: 16, ..helpdesk_core::OutboxOptions::default() };
    let dispatcher = |store: Arc<PgStore>| {
        helpdesk_core::OutboxDispatcher::new(
            store,
            mailer.clone(),
            sink.clone(),
            Arc::new(helpdesk_core::ports::SystemClock),
            options.clone(),
        )
        .with_concurrency(8)
    };
    let (da, db) = (dispatcher(a), dispatcher(b));
    let drain = |d: helpdesk_core::OutboxDispatcher| async move {
        let mut claimed = 0;
        loop {
            let r = d.run_once().await.unwrap();
            claimed += r.claimed;
            if r.claimed == 0 {
                return claimed;
            }
        }
    };
    let (ca, cb) = tokio::join!(drain(da), drain(db));
    assert!(ca > 0 && cb > 0, "both dispatchers worked ({ca} + {cb})");
    assert_eq!(mailer.overlaps.load(Ordering::SeqCst), 0, "never the same message at the same time");
    let delivered = mailer.delivered.lock().unwrap();
    assert_eq!(delivered.len(), total as usize);
    assert!(delivered.values().all(|&n| n == 1), "each delivered once");
}
