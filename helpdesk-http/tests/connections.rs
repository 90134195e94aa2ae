//! What one client can do to the server's connections (#15, defects 1 and 3), over real
//! sockets: a flood of connections that never finish their request head is cut off by the
//! header-read time-out and held to the connection cap (with a log line saying so) while the
//! server keeps answering, and its memory returns near its baseline afterwards; a client that
//! sends its body after the headers is told `Connection: close` whenever the server answers
//! without reading the body, and keeps its connection when the body was read.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// The resident set of process `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Reads one response (head and `Content-Length` body) from `conn`; `None` at end of stream.
async fn read_response(conn: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let len: usize =
                head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + len {
                return Some(head);
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut chunk)).await.ok()?.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn a_body_sent_after_the_headers_finds_the_connection_announced_closed() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, stop, server) = common::serve_in_process(dir.path()).await;

    // The server answers each of these before reading the body: the client, which sends the
    // body only after the headers, is told not to reuse the connection.
    let body = r#"{"subject":"x"}"#;
    for (head, status) in [
        ("POST /api/v1/tickets", "401"),
        ("POST /api/v1/no-such-route", "404"),
        ("DELETE /healthz", "405"),
        ("POST /api/v1/auth/register", "413"),
    ] {
        let mut conn = TcpStream::connect(addr).await.unwrap();
        let length = if status == "413" { "100000000".to_owned() } else { body.len().to_string() };
        let request =
            format!("{head} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n");
        conn.write_all(request.as_bytes()).await.unwrap();
        if status == "413" {
            // The limit (64 KiB) is passed while reading: send a little more than that.
            conn.write_all(&vec![b' '; 70 * 1024]).await.unwrap();
        }
        let response = read_response(&mut conn).await.unwrap();
        assert!(response.starts_with(&format!("http/1.1 {status}")), "{head}: {response}");
        assert!(response.contains("connection: close"), "{head}: {response}");
        // The late body, then nothing more comes back on this connection.
        let _ = conn.write_all(body.as_bytes()).await;
        assert!(read_response(&mut conn).await.is_none(), "{head}: the connection stays closed");
    }

    // A body the server reads keeps the connection alive for the next request.
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let login = r#"{"email":"nobody@example.com","password":"harbor-lantern-quartz-71"}"#;
    let request = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        login.len()
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    conn.write_all(login.as_bytes()).await.unwrap();
    let response = read_response(&mut conn).await.unwrap();
    assert!(response.starts_with("http/1.1 401") && !response.contains("connection: close"), "{response}");
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    assert!(read_response(&mut conn).await.unwrap().starts_with("http/1.1 200"));

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_that_never_finish_their_headers_cannot_starve_the_server() {
    const CAP: usize = 300;
    const FLOOD: usize = 1200;
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_helpdesk"))
        .arg("serve")
        .env("HELPDESK_LISTEN", addr.to_string())
        .env("HELPDESK_DATA_DIR", dir.path())
        .env("HELPDESK_PASSWORD_HASH__MEMORY_KIB", "64")
        .env("HELPDESK_PASSWORD_HASH__ITERATIONS", "1")
        .env("HELPDESK_CONNECTIONS__MAX", CAP.to_string())
        .env("HELPDESK_CONNECTIONS__HEADER_READ_TIMEOUT_SECS", "2")
        .env("HELPDESK_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let mut stderr = child.stderr.take().unwrap();
    std::thread::spawn({
        let log = log.clone();
        move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                log.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    let root = format!("http://{addr}");
    common::wait_ready(&root).await;
    let client = reqwest::Client::new();
    for _ in 0..50 {
        client.get(format!("{root}/api/v1/catalog")).send().await.unwrap();
    }
    let baseline = rss_kib(child.id());

    // The flood: each connection sends the start of a request head and then nothing.
    let started = Instant::now();
    let mut held = Vec::new();
    for _ in 0..FLOOD {
        if let Ok(Ok(mut c)) = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await {
            let _ = c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
            held.push(c);
        }
    }
    assert!(held.len() > CAP, "only {} connections opened", held.len());
    // The server still answers a well-behaved client while the flood holds its connections.
    let health = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let r = health.get(format!("{root}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Every flooding connection is closed by the server (end of stream, or a 408 first).
    let cut: Vec<_> = held
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                let mut buf = [0u8; 512];
                loop {
                    match tokio::time::timeout(Duration::from_secs(60), c.read(&mut buf)).await {
                        Ok(Ok(0) | Err(_)) => return true,
                        Ok(Ok(_)) => continue,
                        Err(_) => return false,
                    }
                }
            })
        })
        .collect();
    for c in cut {
        assert!(c.await.unwrap(), "a connection that never finished its head stayed open for 60 s");
    }
    let took = started.elapsed();
    assert!(log.lock().unwrap().contains("connection limit reached"), "no log line: {}", log.lock().unwrap());

    // Memory returns near the baseline once the clients are gone.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(child.id());
    println!("flood of {FLOOD} connections (cap {CAP}) cut in {took:?}; RSS {baseline} KiB before, {after} KiB after");
    assert!(after < baseline + 32 * 1024, "RSS {after} KiB after the flood, {baseline} KiB before");
    assert_eq!(client.get(format!("{root}/readyz")).send().await.unwrap().status(), 200);
    let _ = child.kill();
    let _ = child.wait();
}
