//! Mail-in throughput benchmark (issue 19), a harness that prints a report: messages per second
//! of 100 KB messages with one attachment (a 72 KB PNG, base64 in the message), each stored
//! durably (raw message, record, ticket, attachment) before it is acknowledged:
//!
//! - through the HTTP route (`POST /api/v1/mail/inbound`, an `ingest_mail` key, 16 in flight)
//!   on sled and, when `DATABASE_URL` is set, on PostgreSQL (a fresh database; its `fsync`
//!   is the server's: `scripts/bench-mail-in.sh` starts one with `fsync=on`);
//! - through the use case alone (`HelpDesk::ingest_mail`, 16 at once), the ceiling of the route;
//! - through the MTA pipe (`helpdesk mail ingest --url`, one process per message as an MTA runs
//!   it, 4 at once);
//! - through IMAP (`APPEND` of every message first, then one poller round), when
//!   `HELPDESK_TEST_DOVECOT` names Dovecot.
//!
//! `cargo bench -p helpdesk-http --bench mail_in [-- MESSAGES]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

#[path = "../tests/common/dovecot.rs"]
mod dovecot;

use std::net::SocketAddr;
use std::time::Instant;

use base64::Engine as _;
use futures::StreamExt as _;
use helpdesk_core::model::{ApiScope, InboundChannel};
use helpdesk_core::policy::Principal;
use helpdesk_http::config::{AdminConfig, Config, MailInConfig, PasswordHashConfig, Secret};

const IN_FLIGHT: usize = 16;

/// A 100 KB message from the admin, vouched for by the trusted MTA, with one PNG attached.
fn message(tag: &str, i: usize) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend((0..72 * 1024).map(|n| ((n * 31 + i * 7) % 251) as u8));
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    let wrapped: Vec<&str> = b64.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect();
    let text = "The projector in room 4 shows a purple tint; photo attached.\r\n".repeat(40);
    format!(
        "Authentication-Results: mx.bench.example; dmarc=pass header.from=example.com\r\n\
From: Ada Admin <admin@example.com>\r\nTo: support@bench.example\r\nSubject: Projector {tag} {i}\r\n\
Message-ID: <{tag}-{i}-{}@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--b\r\nContent-Type: image/png; name=\"tint.png\"\r\n\
Content-Disposition: attachment; filename=\"tint.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        uuid::Uuid::new_v4().simple(),
        wrapped.join("\r\n")
    )
    .into_bytes()
}

fn config(dir: &std::path::Path, storage_url: Option<String>) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        storage_url,
        password_hash: PasswordHashConfig { memory_kib: 64, iterations: 1 },
        bootstrap_admin: Some(AdminConfig {
            email: "admin@example.com".into(),
            password: Some(Secret::new("harbor-lantern-quartz-71")),
            first_name: "Ada".into(),
            last_name: "Admin".into(),
        }),
        mail_in: MailInConfig {
            address: Some("support@bench.example".into()),
            trusted_authserv_ids: vec!["mx.bench.example".into()],
            per_sender_per_hour: 1_000_000_000,
            ..MailInConfig::default()
        },
        ..Config::default()
    }
}

struct Server {
    base: String,
    key: String,
    state: helpdesk_http::AppState,
}

async fn server(config: &Config) -> Server {
    let app = helpdesk_http::server::compose(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = helpdesk_http::router(app.state.clone());
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap()
    });
    let (_, key) =
        app.state.desk().create_api_key(&Principal::System, "bench", vec![ApiScope::IngestMail]).await.unwrap();
    Server { base: format!("http://{addr}"), key, state: app.state }
}

fn report(what: &str, n: usize, started: Instant) -> f64 {
    let rate = n as f64 / started.elapsed().as_secs_f64();
    println!("| {what} | {n} | {rate:.0} |");
    rate
}

async fn over_http(s: &Server, tag: &str, n: usize) -> f64 {
    let client = reqwest::Client::new();
    let messages: Vec<Vec<u8>> = (0..n).map(|i| message(tag, i)).collect();
    let started = Instant::now();
    futures::stream::iter(messages)
        .map(|m| {
            let client = client.clone();
            async move {
                let r = client
                    .post(format!("{}/api/v1/mail/inbound", s.base))
                    .header("Authorization", format!("ApiKey {}", s.key))
                    .header("Content-Type", "message/rfc822")
                    .body(m)
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
                let v: serde_json::Value = r.json().await.unwrap();
                assert_eq!(v["outcome"], "ticket", "{v}");
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
    report(&format!("HTTP route, {tag}, {IN_FLIGHT} in flight"), n, started)
}

async fn use_case(s: &Server, tag: &str, n: usize) -> f64 {
    let messages: Vec<Vec<u8>> = (0..n).map(|i| message(tag, i)).collect();
    let desk = s.state.desk().clone();
    let started = Instant::now();
    futures::stream::iter(messages)
        .map(|m| {
            let desk = desk.clone();
            async move {
                let r = desk.ingest_mail(&Principal::System, &m, InboundChannel::Pipe).await.unwrap();
                assert!(!r.duplicate && r.outcome.name() == "ticket", "{r:?}");
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
    report(&format!("use case alone (`HelpDesk::ingest_mail`), {tag}, {IN_FLIGHT} at once"), n, started)
}

async fn pipe(s: &Server, dir: &std::path::Path, tag: &str, n: usize) -> f64 {
    let key_file = dir.join("ingest.key");
    std::fs::write(&key_file, &s.key).unwrap();
    let messages: Vec<Vec<u8>> = (0..n).map(|i| message(tag, i)).collect();
    let started = Instant::now();
    futures::stream::iter(messages)
        .map(|m| {
            let (base, key_file) = (s.base.clone(), key_file.clone());
            tokio::task::spawn_blocking(move || {
                use std::io::Write as _;
                let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_helpdesk"))
                    .args(["mail", "ingest", "--url", &base, "--key-file"])
                    .arg(&key_file)
                    .env("HELPDESK_LOG", "error")
                    .env("HELPDESK_DATA_DIR", key_file.parent().unwrap())
                    .stdin(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                child.stdin.take().unwrap().write_all(&m).unwrap();
                let out = child.wait_with_output().unwrap();
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            })
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await;
    report(&format!("MTA pipe (`helpdesk mail ingest --url`, a process per message), {tag}, 4 at once"), n, started)
}

async fn imap(s: &Server, tag: &str, n: usize) -> Option<f64> {
    let d = dovecot::start_dovecot()?;
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", d.port)).await.unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap();
    let mut session = client.login("box", "secret").await.map_err(|(e, _)| e).unwrap();
    session.select("INBOX").await.unwrap();
    for i in 0..n {
        session.append("INBOX", None, None, message(tag, i)).await.unwrap();
    }
    session.logout().await.unwrap();
    let mut cfg = d.config(None);
    cfg.claim_secs = 300;
    let started = Instant::now();
    let r = helpdesk_http::server::imap::poll_once(&cfg, s.state.desk()).await.unwrap();
    assert_eq!(r.recorded, n, "{r:?}");
    Some(report(&format!("IMAP poller (fetch, store, mark), {tag}, one process"), n, started))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(400);
    println!("# Mail-in benchmark: 100 KB messages with one 72 KB attachment, durable\n");
    println!("| path | messages | messages/s |\n|---|---|---|");
    let dir = tempfile::tempdir().unwrap();
    let sled = server(&config(dir.path(), None)).await;
    over_http(&sled, "sled", n).await;
    use_case(&sled, "sled", n).await;
    pipe(&sled, dir.path(), "sled", n / 4).await;
    if imap(&sled, "sled", n).await.is_none() {
        println!("| IMAP poller, sled | — | (HELPDESK_TEST_DOVECOT not set) |");
    }
    match common::fresh_pg_database("hd_bench_mail").await {
        Some(url) => {
            let pg_dir = tempfile::tempdir().unwrap();
            let pg = server(&config(pg_dir.path(), Some(url))).await;
            println!("\n| path | messages | messages/s |\n|---|---|---|");
            over_http(&pg, "PostgreSQL", n).await;
            use_case(&pg, "PostgreSQL", n).await;
            pipe(&pg, pg_dir.path(), "PostgreSQL", n / 4).await;
            imap(&pg, "PostgreSQL", n).await;
        }
        None => println!("\n(DATABASE_URL not set: no PostgreSQL rows)"),
    }
}
