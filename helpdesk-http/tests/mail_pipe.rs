//! `helpdesk mail ingest`, the MTA pipe, as an MTA runs it: one message on standard input, the
//! answer in the exit code (0 accepted, 75 try again later, 67 refused). On a sled data
//! directory it opens the store itself while no server runs; while one does, the store is
//! locked (75, the MTA retries) and `--url` posts to the server with an `ingest_mail` key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write as _;
use std::process::Stdio;

use common::{CLI_ADMIN, cli, run_cli, serve_cli, wait_ready};

fn env() -> Vec<(String, String)> {
    vec![
        ("HELPDESK_MAIL_IN__ADDRESS".into(), "support@desk.example".into()),
        ("HELPDESK_MAIL_IN__TRUSTED_AUTHSERV_IDS".into(), "[\"mx.desk.example\"]".into()),
    ]
}

/// Runs `helpdesk mail ingest <args>` with `raw` on standard input: (exit code, stderr).
fn pipe(data: &std::path::Path, env: &[(String, String)], args: &[&str], raw: &str) -> (i32, String) {
    let mut child = cli(data, env)
        .args(["mail", "ingest"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn message(id: &str) -> String {
    format!(
        "Received: from mail.example.com by mx.desk.example\r\n\
Authentication-Results: mx.desk.example; dkim=pass header.d=example.com; dmarc=pass header.from=example.com\r\n\
From: Ops <{CLI_ADMIN}>\r\nTo: support@desk.example\r\nSubject: Badge reader at door 3\r\n\
Message-ID: <{id}@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
It blinks red for everyone.\r\n"
    )
}

#[tokio::test]
async fn the_pipe_accepts_once_refuses_garbage_and_defers_while_it_cannot_reach_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let env = env();
    run_cli(dir.path(), &env, &["admin", "create", "--email", CLI_ADMIN]);

    let (code, err) = pipe(dir.path(), &env, &[], &message("p1"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("opened TX"), "{err}");
    let (code, err) = pipe(dir.path(), &env, &[], &message("p1"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("duplicate"), "{err}");
    let (code, err) = pipe(dir.path(), &env, &[], "");
    assert_eq!(code, 67, "{err}");

    // A server on the same directory holds the store: the pipe defers, or posts with --url.
    let out = run_cli(dir.path(), &env, &["api-key", "create", "--name", "postfix", "--scopes", "ingest_mail"]);
    let credential =
        out.lines().find_map(|l| l.trim().strip_prefix("send it as:  Authorization: ApiKey ")).unwrap().to_owned();
    let (mut server, root) = serve_cli(dir.path(), &env);
    wait_ready(&root).await;
    let (code, err) = pipe(dir.path(), &env, &[], &message("p2"));
    assert_eq!(code, 75, "{err}");
    let key_file = dir.path().join("ingest.key");
    std::fs::write(&key_file, format!("{credential}\n")).unwrap();
    let mut keyed = env.clone();
    keyed.push(("HELPDESK_INGEST_API_KEY".into(), credential));
    let (code, err) = pipe(dir.path(), &keyed, &["--url", &root], &message("p2"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("\"outcome\":\"ticket\""), "{err}");
    let (code, err) = pipe(dir.path(), &keyed, &["--url", &root], &message("p2"));
    assert!(code == 0 && err.contains("\"duplicate\":true"), "{code} {err}");
    // The key from a file (an MTA's pipe passes no environment); a message that is none.
    let (code, err) = pipe(dir.path(), &env, &["--url", &root, "--key-file", key_file.to_str().unwrap()], "");
    assert_eq!(code, 67, "{err}");
    server.kill().unwrap();
    server.wait().unwrap();
    // Nobody listening: try again later.
    let (code, err) = pipe(dir.path(), &keyed, &["--url", &root], &message("p3"));
    assert_eq!(code, 75, "{err}");
}
