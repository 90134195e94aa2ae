//! The real server on real sockets: zero-configuration start on sled in a data directory
//! (first admin with a generated password in a file, mail written as files by the background
//! dispatcher), client addresses through a trusted proxy, and graceful shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use helpdesk_http::config::Config;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[tokio::test]
async fn zero_configuration_start_sign_in_mail_files_and_graceful_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let mut config =
        Config { listen: addr, data_dir: dir.path().join("data"), dispatch_interval_ms: 50, ..Config::default() };
    config.password_hash.memory_kib = 64;
    config.password_hash.iterations = 1;
    let stop = CancellationToken::new();
    let server = tokio::spawn({
        let (config, stop) = (config.clone(), stop.clone());
        async move { helpdesk_http::server::serve(&config, stop).await }
    });
    let base = format!("http://{addr}");
    common::wait_ready(&base).await;

    // The first admin's password is in a private file; it must be changed first.
    let pw_file = config.data_dir.join("initial-admin-password");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&pw_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let generated = std::fs::read_to_string(&pw_file).unwrap();
    let c = reqwest::Client::new();
    let login: Value = c
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "admin@localhost", "password": generated}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(login["user"]["must_change_password"], true);
    let token = login["access_token"].as_str().unwrap();
    let r = c
        .post(format!("{base}/api/v1/auth/password/change"))
        .bearer_auth(token)
        .json(&json!({"current_password": generated, "new_password": "granite-harbor-willow-64"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    // A registration's "received" mail lands as an .eml file, written by the dispatcher.
    let r = c
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"email": "eve@example.com", "password": "granite-harbor-willow-64", "first_name": "Eve",
                      "last_name": "Stone", "company_id": "MA0042"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let mail_dir = config.data_dir.join("mail");
    let mut found = None;
    for _ in 0..100 {
        if let Ok(rd) = std::fs::read_dir(&mail_dir) {
            for e in rd.flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                if text.contains("To: \"Eve Stone\" <eve@example.com>") {
                    found = Some(text);
                }
            }
        }
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mail = found.expect("the registration mail was written");
    assert!(mail.contains("registration received"));
    let metrics = c.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("http_requests_total"));
    // Set at each scrape: the memory an operator sizes by, and what the row cache holds.
    for gauge in
        ["process_resident_memory_bytes", "helpdesk_sled_row_cache_budget_bytes", "helpdesk_sled_row_cache_rows"]
    {
        assert!(metrics.contains(&format!("\n{gauge} ")), "{gauge} missing from /metrics:\n{metrics}");
    }

    // Graceful shutdown: the server returns cleanly and the port is free again.
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap().unwrap();
    assert!(std::net::TcpListener::bind(addr).is_ok());

    // A restart reuses the data: same secret, no second generated admin.
    let secret = std::fs::read_to_string(config.data_dir.join("jwt-secret")).unwrap();
    let again = helpdesk_http::server::compose(&config).await.unwrap();
    drop(again);
    assert_eq!(std::fs::read_to_string(config.data_dir.join("jwt-secret")).unwrap(), secret);
    assert_eq!(std::fs::read_to_string(&pw_file).unwrap(), generated);
}

#[tokio::test]
async fn client_addresses_come_from_x_forwarded_for_only_behind_a_trusted_proxy() {
    for trusted in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
        config.password_hash.memory_kib = 64;
        config.password_hash.iterations = 1;
        config.limits.logins_per_minute_per_address = 2;
        if trusted {
            config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        }
        let app = helpdesk_http::server::compose(&config).await.unwrap();
        let router = helpdesk_http::router(app.state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
        });
        let c = reqwest::Client::new();
        let login = |xff: &'static str| {
            c.post(format!("http://{addr}/api/v1/auth/login"))
                .header("x-forwarded-for", xff)
                .json(&json!({"email": "x@example.com", "password": "wrong-wrong-wrong"}))
                .send()
        };
        // Two different forwarded clients, two attempts each, then a third.
        for xff in ["198.51.100.1", "198.51.100.2", "198.51.100.1", "198.51.100.2"] {
            let s = login(xff).await.unwrap().status();
            if trusted {
                assert_eq!(s, 401, "each forwarded client has its own budget");
            } else if s == 429 {
                // Untrusted: the header is ignored, all four come from 127.0.0.1.
                break;
            }
        }
        let third = login("198.51.100.1").await.unwrap();
        assert_eq!(third.status(), 429, "trusted = {trusted}");
        assert!(third.headers().contains_key("retry-after"));
        server.abort();
    }
}

#[tokio::test]
async fn metrics_need_their_token_when_one_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let mut config = Config { listen: addr, data_dir: dir.path().join("data"), ..Config::default() };
    config.password_hash.memory_kib = 64;
    config.password_hash.iterations = 1;
    config.metrics_token = Some(helpdesk_http::config::Secret::new("scrape-me-please"));
    let stop = CancellationToken::new();
    let server = tokio::spawn({
        let (config, stop) = (config.clone(), stop.clone());
        async move { helpdesk_http::server::serve(&config, stop).await }
    });
    let base = format!("http://{addr}");
    common::wait_ready(&base).await;
    let c = reqwest::Client::new();
    assert_eq!(c.get(format!("{base}/metrics")).send().await.unwrap().status(), 401);
    let r = c.get(format!("{base}/metrics")).bearer_auth("scrape-me-please").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("http_requests_total"));
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn an_http_1_1_request_without_host_is_a_bad_request() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let dir = tempfile::tempdir().unwrap();
    let (addr, stop, server) = common::serve_in_process(dir.path()).await;
    let status_of = |request: &'static str| async move {
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(request.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 64];
        let n = conn.read(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned()
    };
    assert!(status_of("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n").await.starts_with("HTTP/1.1 400"));
    assert!(
        status_of("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.starts_with("HTTP/1.1 200")
    );
    assert!(status_of("GET /healthz HTTP/1.0\r\n\r\n").await.starts_with("HTTP/1.0 200"), "HTTP/1.0 needs none");
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap().unwrap();
}
