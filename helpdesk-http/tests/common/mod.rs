//! Test support: an app over the in-memory store driven through `oneshot`, with cheap
//! password hashing counted by a wrapper, and helpers for the common steps of the story.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use helpdesk_core::HelpDesk;
use helpdesk_core::model::{NotificationKind, OutboxPayload, PasswordHash};
use helpdesk_core::password::{Argon2Hasher, Argon2Options, Password, PasswordHasher, Verification};
use helpdesk_core::testing::{ADMIN_PASSWORD, InMemoryStore};
use helpdesk_http::throttle::AddressLimits;
use helpdesk_http::{AppState, HttpOptions, TokenOptions};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

pub const SECRET: &[u8] = b"test-secret-test-secret-test-secret!";
pub const PASSWORD: &str = "plum-harbor-violet-42";

/// Counts the password hashing work, to show an unknown email costs a verification too.
#[derive(Debug)]
pub struct CountingHasher {
    inner: Argon2Hasher,
    pub verifications: AtomicUsize,
}

impl PasswordHasher for CountingHasher {
    fn hash(&self, p: &Password) -> Result<PasswordHash, String> {
        self.inner.hash(p)
    }
    fn verify(&self, p: &Password, h: &PasswordHash) -> Verification {
        self.verifications.fetch_add(1, Ordering::SeqCst);
        self.inner.verify(p, h)
    }
    fn verify_dummy(&self, p: &Password) {
        self.verifications.fetch_add(1, Ordering::SeqCst);
        self.inner.verify_dummy(p);
    }
}

pub fn token_options() -> TokenOptions {
    TokenOptions {
        secret: SECRET.to_vec(),
        issuer: "http://test".into(),
        audience: "helpdesk-api".into(),
        access_ttl: chrono::Duration::minutes(15),
    }
}

pub struct TestApp {
    pub router: Router,
    pub store: Arc<InMemoryStore>,
    pub desk: HelpDesk,
    pub hasher: Arc<CountingHasher>,
    pub admin: String,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
    pub fn field_names(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map_or_else(Vec::new, |a| a.iter().map(|e| e["field"].as_str().unwrap_or("").to_owned()).collect())
    }
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_limits(AddressLimits {
            logins_per_minute: 1000,
            registrations_per_hour: 1000,
            resets_per_hour: 1000,
        })
        .await
    }

    pub async fn with_limits(limits: AddressLimits) -> Self {
        Self::with(limits, helpdesk_http::WebOptions::default(), None).await
    }

    /// With one service-level policy, `standard`, of `targets` (JSON, as in the configuration)
    /// on a calendar open all day every day (`always`, UTC).
    #[allow(dead_code)]
    pub async fn with_always_open_sla(targets: Value) -> Self {
        let week: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .map(|d| json!({"day": d, "hours": [{"start": "00:00", "end": "24:00"}]}))
            .collect();
        let spec: helpdesk_core::sla::SlaSpec = serde_json::from_value(json!({
            "calendars": [{"key": "always", "time_zone": "UTC", "week": week}],
            "policies": [{"key": "standard", "calendar": "always", "targets": [targets]}]
        }))
        .unwrap();
        Self::with_sla(spec.compile().unwrap()).await
    }

    /// With service-level calendars and policies.
    #[allow(dead_code)]
    pub async fn with_sla(sla: helpdesk_core::sla::SlaRules) -> Self {
        let limits = AddressLimits { logins_per_minute: 1000, registrations_per_hour: 1000, resets_per_hour: 1000 };
        Self::with(limits, helpdesk_http::WebOptions::default(), Some(sla)).await
    }

    /// With what a deployment sets for the pages; terms of use are asked for by core too.
    #[allow(dead_code)]
    pub async fn with_web(web: helpdesk_http::WebOptions) -> Self {
        let limits = AddressLimits { logins_per_minute: 1000, registrations_per_hour: 1000, resets_per_hour: 1000 };
        Self::with(limits, web, None).await
    }

    async fn with(
        limits: AddressLimits,
        web: helpdesk_http::WebOptions,
        sla: Option<helpdesk_core::sla::SlaRules>,
    ) -> Self {
        let store = Arc::new(InMemoryStore::new());
        let hasher = Arc::new(CountingHasher {
            inner: Argon2Hasher::new(Argon2Options::insecure_fast_for_tests()).unwrap(),
            verifications: AtomicUsize::new(0),
        });
        let desk_options = helpdesk_core::HelpDeskOptions {
            terms_version: web.terms.as_ref().map(|t| t.version.clone()),
            satisfaction: helpdesk_core::SatisfactionOptions {
                link_key: Some(helpdesk_core::LinkKey::derive(b"the test deployment's token secret")),
                ..helpdesk_core::SatisfactionOptions::default()
            },
            mail_in: helpdesk_core::MailInOptions {
                address: Some("support@desk.example".into()),
                message_id_domain: "desk.example".into(),
                trusted_authserv_ids: vec!["mx.desk.example".into()],
                link_key: Some(helpdesk_core::LinkKey::derive_for(b"the test deployment's token secret", "mail in")),
                ..helpdesk_core::MailInOptions::default()
            },
            ..helpdesk_core::HelpDeskOptions::default()
        };
        let desk = HelpDesk::builder(store.clone(), Arc::new(object_store::memory::InMemory::new()))
            .hasher(hasher.clone())
            .options(desk_options)
            .sla(sla.unwrap_or_default())
            .build()
            .unwrap();
        desk.ensure_admin(helpdesk_core::BootstrapAdmin {
            email: "admin@example.com".into(),
            password: Some(Password::new(ADMIN_PASSWORD)),
            first_name: "Ada".into(),
            last_name: "Admin".into(),
        })
        .await
        .unwrap();
        let mut options = HttpOptions::new(token_options());
        options.address_limits = limits;
        options.web = web;
        let router = helpdesk_http::router(AppState::new(desk.clone(), options));
        let mut app = Self { router, store, desk, hasher, admin: String::new() };
        app.admin = app.login("admin@example.com", ADMIN_PASSWORD).await.0;
        app
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp { status, headers, body }
    }

    pub fn request(
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> axum::http::request::Builder {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header("authorization", if t.starts_with("ApiKey ") { t.to_owned() } else { format!("Bearer {t}") });
        }
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        b
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        let b = Self::request(method, path, token, body.as_ref());
        let body = body.map_or_else(Body::empty, |v| Body::from(v.to_string()));
        self.send(b.body(body).unwrap()).await
    }

    /// Calls with extra headers (If-Match, Idempotency-Key, X-Forwarded-For …) and a peer address.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
        peer: Option<SocketAddr>,
    ) -> Resp {
        let mut b = Self::request(method, path, token, body.as_ref());
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let mut req = b.body(body.map_or_else(Body::empty, |v| Body::from(v.to_string()))).unwrap();
        if let Some(p) = peer {
            req.extensions_mut().insert(ConnectInfo(p));
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// Signs in; returns (access token, refresh token).
    pub async fn login(&self, email: &str, password: &str) -> (String, String) {
        let r = self
            .call(Method::POST, "/api/v1/auth/login", None, Some(json!({ "email": email, "password": password })))
            .await;
        assert_eq!(r.status, StatusCode::OK, "login {email}: {:?}", r.body);
        (r.body["access_token"].as_str().unwrap().to_owned(), r.body["refresh_token"].as_str().unwrap().to_owned())
    }

    pub async fn register(&self, n: u32) -> Resp {
        self.call(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({
                "email": format!("user{n}@example.com"),
                "password": PASSWORD,
                "first_name": "Test",
                "last_name": format!("User{n}"),
                "company_id": format!("MA{:04}", 1000 + n),
                "department": "it",
                "accepted_terms": self.desk.options().terms_version,
            })),
        )
        .await
    }

    /// A registered, approved user with `role`; returns (user id, access token).
    pub async fn user(&self, n: u32, role: &str) -> (String, String) {
        let r = self.register(n).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        let a = self.post(&format!("/api/v1/users/{id}/approve"), &self.admin, json!({})).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        if role != "employee" {
            let c = self
                .call(
                    Method::PATCH,
                    &format!("/api/v1/users/{id}/role"),
                    Some(&self.admin),
                    Some(json!({ "role": role })),
                )
                .await;
            assert_eq!(c.status, StatusCode::OK, "{:?}", c.body);
        }
        let (t, _) = self.login(&format!("user{n}@example.com"), PASSWORD).await;
        (id, t)
    }

    /// Files a ticket; returns its number.
    pub async fn ticket(&self, token: &str, subject: &str) -> String {
        let r = self
            .post(
                "/api/v1/tickets",
                token,
                json!({ "subject": subject, "category": "hardware", "sub_category": "laptop",
                        "description": "The screen flickers when docked." }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["number"].as_str().unwrap().to_owned()
    }

    /// The newest single-use token mailed to `email` (reset or invitation).
    pub fn mailed_token(&self, email: &str) -> Option<String> {
        self.store.outbox_records().into_iter().rev().find_map(|r| match r.message.payload {
            OutboxPayload::Mail(n) if n.to.as_str() == email => match n.kind {
                NotificationKind::PasswordReset { token, .. } | NotificationKind::Invitation { token, .. } => {
                    Some(token.expose().to_owned())
                }
                _ => None,
            },
            _ => None,
        })
    }

    /// The rating token of the newest resolution mail about ticket `number`.
    #[allow(dead_code)]
    pub fn rating_token(&self, number: &str) -> Option<String> {
        self.store.outbox_records().into_iter().rev().find_map(|r| match r.message.payload {
            OutboxPayload::Mail(n) => match n.kind {
                NotificationKind::TicketResolved { ticket, rating: Some(link), .. } if ticket.number == number => {
                    Some(link.token.expose().to_owned())
                }
                _ => None,
            },
            _ => None,
        })
    }

    /// Kinds of mail enqueued for `email`, oldest first.
    pub fn mail_kinds(&self, email: &str) -> Vec<&'static str> {
        self.store
            .outbox_records()
            .into_iter()
            .filter_map(|r| match r.message.payload {
                OutboxPayload::Mail(n) if n.to.as_str() == email => Some(n.kind.name()),
                _ => None,
            })
            .collect()
    }
}

/// Why PostgreSQL tests cannot run here, if they cannot.
pub fn pg_missing() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(u) if !u.is_empty() => None,
        _ => Some("DATABASE_URL is not set and no PostgreSQL server was started".into()),
    }
}

pub async fn fresh_database() -> String {
    let admin = std::env::var("DATABASE_URL").unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&admin).await.unwrap();
    let name = format!("hd_http_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.unwrap();
    pool.close().await;
    let (main, query) = admin.split_once('?').map_or((admin.as_str(), String::new()), |(m, q)| (m, format!("?{q}")));
    let after_scheme = main.find("://").unwrap() + 3;
    let base = match main[after_scheme..].find('/') {
        Some(i) => &main[..after_scheme + i],
        None => main,
    };
    format!("{base}/{name}{query}")
}

/// A `multipart/form-data` body of `(name, file name, bytes)` parts; its content type.
pub fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "helpdesk-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, file_name, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file_name {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// One request through `router`: `token` is a bearer token, or a whole `ApiKey …` value.
pub async fn call_router(
    router: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let method: Method = method.parse().unwrap();
    let b = TestApp::request(method, path, token, body.as_ref());
    let res = router
        .clone()
        .oneshot(b.body(body.map_or_else(Body::empty, |v| Body::from(v.to_string()))).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Waits (up to 15 s) until the server at `root` (`http://host:port`) answers `/readyz`.
pub async fn wait_ready(root: &str) {
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client.get(format!("{root}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the server at {root} never became ready");
}

/// The bootstrap admin's password of [`start_server`] (`admin@example.com`).
pub const SERVER_ADMIN_PASSWORD: &str = "harbor-lantern-quartz-71";

/// A `helpdesk serve` process, killed when dropped.
pub struct ServerProcess {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT/api/v1`.
    pub base: String,
    _dir: tempfile::TempDir,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `helpdesk serve` on storage `db` with a bootstrap admin, cheap hashing, mail to
/// files and a fast dispatcher; `extra` environment variables on top.
pub fn start_server_with(db: &str, extra: &[(&str, &str)]) -> ServerProcess {
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_helpdesk"));
    cmd.arg("serve")
        .env("HELPDESK_LISTEN", addr.to_string())
        .env("HELPDESK_DATA_DIR", dir.path())
        .env("HELPDESK_STORAGE_URL", db)
        .env("HELPDESK_PUBLIC_URL", "http://helpdesk.test")
        .env("HELPDESK_JWT_SECRET", "multi-instance-test-secret-0123456789abcdef")
        .env("HELPDESK_BOOTSTRAP_ADMIN__EMAIL", "admin@example.com")
        .env("HELPDESK_BOOTSTRAP_ADMIN__PASSWORD", SERVER_ADMIN_PASSWORD)
        .env("HELPDESK_PASSWORD_HASH__MEMORY_KIB", "64")
        .env("HELPDESK_PASSWORD_HASH__ITERATIONS", "1")
        .env("HELPDESK_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    ServerProcess { child: cmd.spawn().unwrap(), base: format!("http://{addr}/api/v1"), _dir: dir }
}

/// [`start_server_with`] without extra settings.
pub fn start_server(db: &str) -> ServerProcess {
    start_server_with(db, &[])
}

/// `helpdesk_http::server::serve` in this process on a free port, on sled in `dir` with cheap
/// password hashing; ready when this returns. Stop it with the token and await the handle.
pub async fn serve_in_process(
    dir: &std::path::Path,
) -> (SocketAddr, tokio_util::sync::CancellationToken, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut config = helpdesk_http::Config { listen: addr, data_dir: dir.join("data"), ..Default::default() };
    config.password_hash.memory_kib = 64;
    config.password_hash.iterations = 1;
    let stop = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn({
        let stop = stop.clone();
        async move { helpdesk_http::server::serve(&config, stop).await }
    });
    wait_ready(&format!("http://{addr}")).await;
    (addr, stop, server)
}

/// Signs in over HTTP at `base` (`…/api/v1`) and returns the access token.
pub async fn sign_in(client: &reqwest::Client, base: &str, email: &str, password: &str) -> String {
    let r: Value = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["access_token"].as_str().unwrap_or_else(|| panic!("no token: {r}")).to_owned()
}

/// A moto S3 server process, killed when dropped.
pub struct Moto(std::process::Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts moto (the S3-compatible test server `scripts/test.sh` installs, named by
/// `HELPDESK_TEST_MOTO`) on `port`; `None` when it is not installed.
pub fn start_moto(port: u16) -> Option<Moto> {
    let bin = std::env::var("HELPDESK_TEST_MOTO").ok().filter(|b| std::path::Path::new(b).exists())?;
    let child = std::process::Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(200)).is_err() {
        assert!(std::time::Instant::now() < deadline, "moto did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Some(Moto(child))
}

/// The bootstrap admin of the command-line tests ([`cli`]).
pub const CLI_ADMIN: &str = "ops@example.com";
/// Its password.
pub const CLI_PASSWORD: &str = "harbor-lantern-quartz-71";

/// The `helpdesk` binary on its embedded default in `data` (sled and files; no storage or
/// attachments URL from the caller's environment), with cheap password hashing and the
/// [`CLI_ADMIN`], plus `env`.
pub fn cli(data: &std::path::Path, env: &[(String, String)]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_helpdesk"));
    c.env("HELPDESK_DATA_DIR", data)
        .env("HELPDESK_PASSWORD_HASH__MEMORY_KIB", "64")
        .env("HELPDESK_PASSWORD_HASH__ITERATIONS", "1")
        .env("HELPDESK_BOOTSTRAP_ADMIN__EMAIL", CLI_ADMIN)
        .env("HELPDESK_BOOTSTRAP_ADMIN__PASSWORD", CLI_PASSWORD)
        .env("HELPDESK_LOG", "warn")
        .env_remove("HELPDESK_STORAGE_URL")
        .env_remove("HELPDESK_ATTACHMENTS_URL");
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Runs `helpdesk <args>` ([`cli`]) to success; answers what it printed.
pub fn run_cli(data: &std::path::Path, env: &[(String, String)], args: &[&str]) -> String {
    let out = cli(data, env).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "helpdesk {args:?} failed: {text}");
    text
}

/// Starts `helpdesk serve` ([`cli`]) on a free port; answers the process and its root URL.
pub fn serve_cli(data: &std::path::Path, env: &[(String, String)]) -> (std::process::Child, String) {
    let addr: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let child = cli(data, env)
        .arg("serve")
        .env("HELPDESK_LISTEN", addr.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    (child, format!("http://{addr}"))
}

mod dovecot;
#[allow(unused_imports)]
pub use dovecot::{Dovecot, start_dovecot};
