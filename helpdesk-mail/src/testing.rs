//! Test support (feature `testing`): real SMTP servers (aiosmtpd, installed by
//! `scripts/test.sh` into a virtualenv) that a test starts, stops and restarts on one port,
//! and the mail they received.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why SMTP tests cannot run here, if they cannot.
pub fn smtp_missing() -> Option<String> {
    match std::env::var("HELPDESK_TEST_SMTP_PYTHON") {
        Ok(p) if !p.is_empty() && Path::new(&p).exists() => None,
        _ => Some(
            "HELPDESK_TEST_SMTP_PYTHON is not set: run the tests with scripts/test.sh, which installs aiosmtpd".into(),
        ),
    }
}

/// What the server does with mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Accepts everything into a Maildir.
    Accept,
    /// Refuses every recipient with 550.
    RejectPermanently,
    /// Refuses every recipient with 451.
    RejectTemporarily,
}

/// A free local port (nothing listens on it until a server is started there), never one
/// handed out before in this process (tests running side by side must not share one).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut given = GIVEN.lock().unwrap();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// An aiosmtpd process; killed on drop.
#[derive(Debug)]
pub struct SmtpServer {
    child: Child,
    /// Its port.
    pub port: u16,
    /// Its Maildir (for [`Behaviour::Accept`]).
    pub maildir: PathBuf,
}

impl SmtpServer {
    /// Starts a server on `port` and waits until it accepts connections.
    pub fn start(port: u16, behaviour: Behaviour, maildir: &Path) -> Self {
        let python = std::env::var("HELPDESK_TEST_SMTP_PYTHON").expect("HELPDESK_TEST_SMTP_PYTHON");
        let handlers = std::env::var("HELPDESK_TEST_SMTP_HANDLERS").unwrap_or_default();
        let mut cmd = Command::new(python);
        cmd.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .env("PYTHONPATH", handlers)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        match behaviour {
            Behaviour::Accept => {
                for sub in ["tmp", "new", "cur"] {
                    std::fs::create_dir_all(maildir.join(sub)).unwrap();
                }
                cmd.args(["-c", "aiosmtpd.handlers.Mailbox"]).arg(maildir);
            }
            Behaviour::RejectPermanently => {
                cmd.args(["-c", "helpdesk_smtp_handlers.RejectAll"]);
            }
            Behaviour::RejectTemporarily => {
                cmd.args(["-c", "helpdesk_smtp_handlers.TempFailAll"]);
            }
        }
        let child = cmd.spawn().expect("start aiosmtpd");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port, maildir: maildir.to_path_buf() }
    }

    /// The `smtp://` URL of this server.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Stops the server (the port is free again when this returns).
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The messages delivered into `maildir` so far (raw RFC 5322 text).
pub fn received(maildir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(maildir.join("new")) else { return Vec::new() };
    rd.flatten().filter_map(|e| std::fs::read_to_string(e.path()).ok()).collect()
}

/// Waits up to `timeout` until `pred` holds for the received messages; returns them.
pub async fn wait_for(maildir: &Path, timeout: Duration, pred: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let got = received(maildir);
        if pred(&got) || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A minimal SMTP sink in Rust for benchmarks: accepts every message, counts it, keeps
/// nothing. Speaks just enough SMTP for lettre (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT).
#[derive(Debug)]
pub struct SinkServer {
    /// Its address.
    pub addr: SocketAddr,
    received: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl SinkServer {
    /// Starts a sink on a free port.
    pub async fn start() -> Self {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU64, Ordering};

        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(AtomicU64::new(0));
        let count = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let count = count.clone();
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let mut lines = BufReader::new(r);
                    let mut line = String::new();
                    if w.write_all(b"220 sink ESMTP\r\n").await.is_err() {
                        return;
                    }
                    let mut in_data = false;
                    loop {
                        line.clear();
                        match lines.read_line(&mut line).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        if in_data {
                            if line == ".\r\n" {
                                in_data = false;
                                count.fetch_add(1, Ordering::Relaxed);
                                if w.write_all(b"250 2.0.0 queued\r\n").await.is_err() {
                                    return;
                                }
                            }
                            continue;
                        }
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" => b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
                            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 2.0.0 ok\r\n",
                            "DATA" => {
                                in_data = true;
                                b"354 go ahead\r\n"
                            }
                            "QUIT" => {
                                let _ = w.write_all(b"221 2.0.0 bye\r\n").await;
                                return;
                            }
                            _ => b"502 5.5.2 not implemented\r\n",
                        };
                        if w.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self { addr, received, task }
    }

    /// The `smtp://` URL of this sink.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Messages received so far.
    pub fn received(&self) -> u64 {
        self.received.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for SinkServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
