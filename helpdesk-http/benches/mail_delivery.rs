//! Mail delivery benchmark (issue 7), a harness that prints a report:
//!
//! 1. the SMTP sink alone (lettre's pooled client straight to it): the ceiling;
//! 2. the outbox dispatcher delivering queued mail through `SmtpMailer` to that sink, on the
//!    in-memory store and on sled;
//! 3. the latency of a request that enqueues mail (ticket creation) with the SMTP server up
//!    and down, the dispatcher running in the background in both.
//!
//! `cargo bench -p helpdesk-http --bench mail_delivery [-- N]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use futures::StreamExt as _;
use helpdesk_core::domain::{Email, MessageId};
use helpdesk_core::model::{Notification, NotificationKind, OutboxMessage, OutboxPayload};
use helpdesk_core::ports::{Mailer, Store, SystemClock, UnitOfWork};
use helpdesk_core::{OutboxDispatcher, OutboxOptions};
use helpdesk_http::config::{AdminConfig, Config, PasswordHashConfig, Secret};
use helpdesk_mail::testing::{SinkServer, free_port};
use helpdesk_mail::{MailSettings, SmtpMailer};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

fn notification(i: usize) -> Notification {
    Notification {
        to: Email::parse(&format!("user{i}@example.com")).unwrap(),
        to_name: format!("User {i}"),
        language: "en".into(),
        reply_to: None,
        kind: NotificationKind::AccountApproved,
    }
}

/// The sink driven straight by a client, 16 messages in flight: `stock` uses lettre's own
/// pooled transport (Nagle on), otherwise our `SmtpMailer` (TCP_NODELAY).
async fn sink_alone(n: usize, stock: bool) -> f64 {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
    let sink = SinkServer::start().await;
    let lettre_pool = AsyncSmtpTransport::<Tokio1Executor>::from_url(&sink.url()).unwrap().build();
    let ours = SmtpMailer::from_url(&sink.url(), MailSettings::default(), Duration::from_secs(10)).unwrap();
    let settings = MailSettings::default();
    let started = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let (t, ours, settings) = (lettre_pool.clone(), &ours, &settings);
            async move {
                let id = MessageId::random();
                if stock {
                    t.send(helpdesk_mail::build_message(settings, id, &notification(i)).unwrap())
                        .await
                        .map(|_| ())
                        .unwrap();
                } else {
                    ours.send(id, &notification(i)).await.unwrap();
                }
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let rate = n as f64 / started.elapsed().as_secs_f64();
    assert_eq!(sink.received(), n as u64);
    rate
}

async fn dispatcher(store: Arc<dyn Store>, n: usize) -> f64 {
    let sink = SinkServer::start().await;
    let now = chrono::Utc::now();
    for chunk in 0..n.div_ceil(200) {
        let mut uow = UnitOfWork::new();
        for i in (chunk * 200)..((chunk + 1) * 200).min(n) {
            uow.outbox.push(OutboxMessage {
                id: MessageId::random(),
                created_at: now - chrono::Duration::seconds(1),
                payload: OutboxPayload::Mail(notification(i)),
            });
        }
        store.commit(uow).await.unwrap();
    }
    let mailer: Arc<dyn Mailer> =
        Arc::new(SmtpMailer::from_url(&sink.url(), MailSettings::default(), Duration::from_secs(10)).unwrap());
    let options = OutboxOptions { batch: 64, ..OutboxOptions::default() };
    let d = OutboxDispatcher::new(
        store,
        mailer,
        helpdesk_core::testing::RecordingWorkflowSink::new(),
        Arc::new(SystemClock),
        options,
    )
    .with_concurrency(16);
    let started = Instant::now();
    let mut delivered = 0;
    while delivered < n {
        let r = d.run_once().await.unwrap();
        delivered += r.delivered;
        assert!(r.claimed > 0 || delivered >= n, "stalled at {delivered}");
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    assert_eq!(sink.received(), n as u64);
    rate
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn request_latency(smtp_url: String, n: usize) -> (f64, f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        dispatch_interval_ms: 50,
        password_hash: PasswordHashConfig { memory_kib: 64, iterations: 1 },
        bootstrap_admin: Some(AdminConfig {
            email: "admin@example.com".into(),
            password: Some(Secret::new("harbor-lantern-quartz-71")),
            first_name: "Ada".into(),
            last_name: "Admin".into(),
        }),
        ..Config::default()
    };
    config.mail.smtp_url = Some(Secret::new(smtp_url));
    config.mail.smtp_timeout_secs = 5;
    let app = helpdesk_http::server::compose(&config).await.unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let bg = tokio::spawn(helpdesk_http::server::background(
        app.state.clone(),
        app.mailer.clone(),
        app.workflow.clone(),
        Duration::from_millis(50),
        Duration::from_secs(15),
        stop.clone(),
    ));
    let router = helpdesk_http::router(app.state.clone());
    let call = |method: &str, path: &str, token: Option<&str>, body: Value| {
        let mut b = Request::builder().method(method).uri(path).header("content-type", "application/json");
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let req = b.body(Body::from(body.to_string())).unwrap();
        let router = router.clone();
        async move {
            let res = router.oneshot(req).await.unwrap();
            let status = res.status();
            let bytes = res.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null))
        }
    };
    let (_, login) = call(
        "POST",
        "/api/v1/auth/login",
        None,
        json!({"email": "admin@example.com", "password": "harbor-lantern-quartz-71"}),
    )
    .await;
    let token = login["access_token"].as_str().unwrap().to_owned();
    let body =
        json!({"subject": "Bench", "category": "hardware", "sub_category": "laptop", "description": "Enqueues a mail"});
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let (s, _) = call("POST", "/api/v1/tickets", Some(&token), body.clone()).await;
        times.push(started.elapsed());
        assert_eq!(s.as_u16(), 201);
    }
    stop.cancel();
    let _ = bg.await;
    times.sort();
    let mean = times.iter().map(Duration::as_secs_f64).sum::<f64>() / n as f64 * 1000.0;
    (percentile(&times, 0.5), percentile(&times, 0.99), mean)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(5000);
    println!(
        "# Mail delivery benchmark ({n} mails, {} cores)\n",
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );
    let stock = sink_alone(n.min(2000), true).await;
    let sink = sink_alone(n, false).await;
    let memory = dispatcher(Arc::new(helpdesk_core::testing::InMemoryStore::new()), n).await;
    let dir = tempfile::tempdir().unwrap();
    let sled = Arc::new(
        helpdesk_storage_sled::SledStore::open(&helpdesk_storage_sled::SledOptions::new(dir.path().join("db")))
            .unwrap(),
    );
    let on_sled = dispatcher(sled, n).await;
    println!("| path | mails/s | vs sink alone |\n|---|---|---|");
    println!("| SMTP sink alone, `SmtpMailer` (TCP_NODELAY pool), 16 in flight | {sink:.0} | 100% |");
    println!(
        "| SMTP sink alone, lettre's stock pooled transport (Nagle on), 16 in flight | {stock:.0} | {:.0}% |",
        100.0 * stock / sink
    );
    println!("| dispatcher → SmtpMailer → sink, in-memory store | {memory:.0} | {:.0}% |", 100.0 * memory / sink);
    println!("| dispatcher → SmtpMailer → sink, sled store | {on_sled:.0} | {:.0}% |", 100.0 * on_sled / sink);

    let requests = 1000;
    let sink = SinkServer::start().await;
    let up = request_latency(sink.url(), requests).await;
    let down = request_latency(format!("smtp://127.0.0.1:{}", free_port()), requests).await;
    println!(
        "\n| create ticket (enqueues a mail), {requests} sequential requests, sled | p50 ms | p99 ms | mean ms |\n|---|---|---|---|"
    );
    println!("| SMTP server up | {:.2} | {:.2} | {:.2} |", up.0, up.1, up.2);
    println!("| SMTP server down | {:.2} | {:.2} | {:.2} |", down.0, down.1, down.2);
}
