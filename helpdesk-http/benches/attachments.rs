//! Attachment throughput benchmark (issue 6), a harness that prints a report. Over real
//! sockets on this machine, with 4 transfers in flight:
//!
//! - upload and download of a 10 MiB file through the server (authenticated, access-checked,
//!   audited, streamed), on local disk and, when `HELPDESK_TEST_MOTO` names a moto server
//!   binary, on an S3-compatible server;
//! - the same file served by tower-http's `ServeFile` (a plain static file server) and read
//!   with a raw `object_store` get: the yardsticks;
//! - resident memory of this process while 20 clients download 10 MiB files at once.
//!
//! `cargo bench -p helpdesk-http --bench attachments [-- ROUNDS]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use helpdesk_http::config::{AdminConfig, Config, PasswordHashConfig, Secret};
use object_store::ObjectStoreExt as _;
use serde_json::{Value, json};

const MIB: usize = 1024 * 1024;
const SIZE: usize = 10 * MIB;

fn rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap()
    });
    addr
}

async fn drain(res: reqwest::Response) -> usize {
    let mut n = 0;
    let mut s = res.bytes_stream();
    while let Some(chunk) = s.next().await {
        n += chunk.unwrap().len();
    }
    n
}

/// MiB/s of `rounds` GETs of `url`, 4 in flight.
async fn download_rate(client: &reqwest::Client, url: &str, token: Option<&str>, rounds: usize) -> f64 {
    let started = Instant::now();
    let total: usize = futures::stream::iter(0..rounds)
        .map(|_| async {
            let mut rb = client.get(url);
            if let Some(t) = token {
                rb = rb.bearer_auth(t);
            }
            let res = rb.send().await.unwrap();
            assert!(res.status().is_success(), "{}", res.status());
            drain(res).await
        })
        .buffer_unordered(4)
        .fold(0, |a, b| async move { a + b })
        .await;
    assert_eq!(total, rounds * SIZE);
    (total as f64 / MIB as f64) / started.elapsed().as_secs_f64()
}

struct Setup {
    base: String,
    token: String,
    number: String,
    state: helpdesk_http::AppState,
}

async fn setup(config: &Config) -> Setup {
    let app = helpdesk_http::server::compose(config).await.unwrap();
    let addr = serve(helpdesk_http::router(app.state.clone())).await;
    let base = format!("http://{addr}/api/v1");
    let c = reqwest::Client::new();
    let login: Value = c
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": "admin@example.com", "password": "harbor-lantern-quartz-71"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();
    let t: Value = c
        .post(format!("{base}/tickets"))
        .bearer_auth(&token)
        .json(&json!({"subject": "Big file", "category": "hardware", "sub_category": "laptop", "description": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Setup { base, token, number: t["number"].as_str().unwrap().to_owned(), state: app.state }
}

/// MiB/s of `rounds` uploads (each to a fresh ticket, 4 in flight); returns the last attachment id.
async fn upload_rate(s: &Setup, data: &[u8], rounds: usize) -> (f64, String) {
    let c = reqwest::Client::new();
    let started = Instant::now();
    let ids: Vec<String> = futures::stream::iter(0..rounds)
        .map(|_| {
            let c = c.clone();
            let data = data.to_vec();
            async move {
                let t: Value = c
                    .post(format!("{}/tickets", s.base))
                    .bearer_auth(&s.token)
                    .json(&json!({"subject": "Big file", "category": "hardware", "sub_category": "laptop", "description": "bench"}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let n = t["number"].as_str().unwrap();
                let part = reqwest::multipart::Part::bytes(data).file_name("big.txt");
                let form = reqwest::multipart::Form::new().part("file", part);
                let res = c.post(format!("{}/tickets/{n}/attachments", s.base)).bearer_auth(&s.token).multipart(form).send().await.unwrap();
                assert_eq!(res.status(), 201, "{}", res.text().await.unwrap_or_default());
                let v: Value = res.json().await.unwrap();
                v[0]["id"].as_str().unwrap().to_owned()
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let rate = (rounds * data.len()) as f64 / MIB as f64 / started.elapsed().as_secs_f64();
    (rate, ids.last().unwrap().clone())
}

fn config(dir: &std::path::Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        password_hash: PasswordHashConfig { memory_kib: 64, iterations: 1 },
        bootstrap_admin: Some(AdminConfig {
            email: "admin@example.com".into(),
            password: Some(Secret::new("harbor-lantern-quartz-71")),
            first_name: "Ada".into(),
            last_name: "Admin".into(),
        }),
        ..Config::default()
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20);
    let data: Vec<u8> = (0..SIZE).map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789 .,\n"[i % 40]).collect();
    let client = reqwest::Client::new();
    println!("# Attachment benchmark: 10 MiB file, {rounds} transfers, 4 in flight\n");
    println!("| path | MiB/s | vs yardstick |\n|---|---|---|");

    let dir = tempfile::tempdir().unwrap();
    let s = setup(&config(dir.path())).await;
    let (up, id) = upload_rate(&s, &data, rounds).await;
    let down = download_rate(&client, &format!("{}/attachments/{id}", s.base), Some(&s.token), rounds).await;
    // The same blob, served by ServeFile straight from the attachment directory.
    let blob = walk(&dir.path().join("attachments")).into_iter().find(|p| p.ends_with(&id)).unwrap();
    let serve_file =
        serve(axum::Router::new().route_service("/file", tower_http::services::ServeFile::new(&blob))).await;
    let yard = download_rate(&client, &format!("http://{serve_file}/file"), None, rounds).await;
    let raw = raw_get_rate(s.state.desk().blobs().clone(), &blob_path(&s, &id).await, rounds).await;
    println!("| download through the server, local disk | {down:.0} | {:.0}% of ServeFile |", 100.0 * down / yard);
    println!("| tower-http `ServeFile`, same file | {yard:.0} | 100% |");
    println!("| raw `object_store` get (LocalFileSystem), same object | {raw:.0} | — |");
    println!("| upload through the server (multipart, typed, hashed, stored), local disk | {up:.0} | — |");

    // Memory while 20 clients download at once (this process holds the server).
    let before = rss_mib();
    let url = format!("{}/attachments/{id}", s.base);
    let peak = Arc::new(std::sync::Mutex::new(before));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                let r = rss_mib();
                {
                    let mut p = peak.lock().unwrap();
                    if r > *p {
                        *p = r;
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (c, url, t) = (client.clone(), url.clone(), s.token.clone());
            tokio::spawn(async move { drain(c.get(url).bearer_auth(t).send().await.unwrap()).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), SIZE);
    }
    sampler.abort();
    let peak = *peak.lock().unwrap();
    println!(
        "\nResident memory with 20 concurrent 10 MiB downloads: {before:.0} MiB before, {peak:.0} MiB peak, growth **{:.0} MiB** (target < 32 MiB).",
        peak - before
    );

    if let Ok(moto) = std::env::var("HELPDESK_TEST_MOTO") {
        let port = helpdesk_mail::testing::free_port();
        let mut child = std::process::Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let endpoint = format!("http://127.0.0.1:{port}");
        client.put(format!("{endpoint}/bench")).send().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.attachments_url = Some("s3://bench/att".into());
        c.s3.endpoint = Some(endpoint);
        c.s3.path_style = true;
        c.s3.access_key_id = Some("test".into());
        c.s3.secret_access_key = Some(Secret::new("test"));
        let s = setup(&c).await;
        let n = rounds.min(8);
        let (up, id) = upload_rate(&s, &data, n).await;
        let down = download_rate(&client, &format!("{}/attachments/{id}", s.base), Some(&s.token), n).await;
        let raw = raw_get_rate(s.state.desk().blobs().clone(), &blob_path(&s, &id).await, n).await;
        println!("\n| S3-compatible (moto), {n} transfers | MiB/s | vs raw object_store get |\n|---|---|---|");
        println!("| download through the server | {down:.0} | {:.0}% |", 100.0 * down / raw);
        println!("| raw `object_store` get of the same object | {raw:.0} | 100% |");
        println!("| upload through the server | {up:.0} | — |");
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = s.number;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

async fn blob_path(s: &Setup, id: &str) -> object_store::path::Path {
    let all: Vec<_> = s.state.desk().blobs().list(None).collect().await;
    all.into_iter().map(|m| m.unwrap().location).find(|l| l.as_ref().ends_with(id)).unwrap()
}

async fn raw_get_rate(
    store: Arc<dyn object_store::ObjectStore>,
    path: &object_store::path::Path,
    rounds: usize,
) -> f64 {
    let started = Instant::now();
    let total: usize = futures::stream::iter(0..rounds)
        .map(|_| {
            let store = store.clone();
            async move {
                let mut n = 0;
                let mut s = store.get(path).await.unwrap().into_stream();
                while let Some(c) = s.next().await {
                    n += c.unwrap().len();
                }
                n
            }
        })
        .buffer_unordered(4)
        .fold(0, |a, b| async move { a + b })
        .await;
    (total as f64 / MIB as f64) / started.elapsed().as_secs_f64()
}
