//! The IMAP poller of mail in against a real Dovecot started by the test: messages are stored
//! once and then marked (or moved); a message the help desk refuses is marked and kept; a crash
//! between fetching and storing loses nothing (the message stays unmarked and is stored on the
//! next round), and one between storing and marking doubles nothing (the next round finds it
//! stored); two server processes on one PostgreSQL database polling the same mailbox store each
//! message once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::{Dovecot, TestApp, start_dovecot};
use helpdesk_core::model::InboundChannel;
use helpdesk_core::policy::Principal;
use helpdesk_http::server::imap::{REFUSED, Round, STORED, poll_once};

type Session = async_imap::Session<tokio::net::TcpStream>;

async fn session(d: &Dovecot) -> Session {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", d.port)).await.unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap();
    let mut s = client.login("box", "secret").await.map_err(|(e, _)| e).unwrap();
    s.select("INBOX").await.unwrap();
    s
}

async fn append(d: &Dovecot, messages: &[String]) {
    let mut s = session(d).await;
    for m in messages {
        s.append("INBOX", None, None, m.as_bytes()).await.unwrap();
    }
    s.logout().await.unwrap();
}

/// How many messages of INBOX match `query`.
async fn count(d: &Dovecot, query: &str) -> usize {
    let mut s = session(d).await;
    let n = s.uid_search(query).await.unwrap().len();
    s.logout().await.unwrap();
    n
}

fn message(id: &str, from: &str, subject: &str) -> String {
    format!(
        "Authentication-Results: mx.desk.example; dmarc=pass header.from=example.com\r\n\
From: {from}\r\nTo: support@desk.example\r\nSubject: {subject}\r\nMessage-ID: <{id}@example.com>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nSee the subject.\r\n"
    )
}

/// Sleeps until 50 ms into the next claim window of `secs` seconds.
async fn sleep_to_window_start(secs: u64) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let window = std::time::Duration::from_secs(secs);
    let into = std::time::Duration::from_nanos(u64::try_from(now.as_nanos() % window.as_nanos()).unwrap());
    tokio::time::sleep(window - into + std::time::Duration::from_millis(50)).await;
}

fn skip_without_dovecot(test: &str) -> Option<Dovecot> {
    let d = start_dovecot();
    if d.is_none() {
        helpdesk_core::testing::skip(test, "HELPDESK_TEST_DOVECOT is not set (scripts/test.sh installs Dovecot)");
    }
    d
}

#[tokio::test]
async fn messages_are_stored_once_then_marked_and_refused_ones_are_kept() {
    let Some(d) = skip_without_dovecot("imap: stored once, then marked") else { return };
    let app = TestApp::new().await;
    app.user(1, "employee").await;
    let auto = "From: user1@example.com\r\nSubject: Away\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <oof@example.com>\r\n\r\nAway\r\n";
    let big = format!("{}{}\r\n", message("big", "user1@example.com", "Huge"), "x".repeat(8 * 1024));
    append(&d, &[message("i1", "user1@example.com", "Monitor dead"), auto.to_owned(), big]).await;
    // A deployment whose messages may be 4 KiB at most: the big one is refused for good.
    let mut options = app.desk.options().clone();
    options.mail_in.max_message_bytes = 4096;
    let desk = helpdesk_core::HelpDesk::builder(app.store.clone(), Arc::new(object_store::memory::InMemory::new()))
        .options(options)
        .build()
        .unwrap();
    let cfg = d.config(None);
    let r = poll_once(&cfg, &desk).await.unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
    assert_eq!(r, Round { recorded: 2, refused: 1, ..Round::default() });
    assert_eq!(count(&d, &format!("KEYWORD {STORED} SEEN")).await, 2);
    assert_eq!(count(&d, &format!("KEYWORD {REFUSED}")).await, 1);
    assert_eq!(poll_once(&cfg, &app.desk).await.unwrap(), Round::default(), "nothing twice");
    let list = app.get("/api/v1/mail/inbound", &app.admin).await;
    let outcomes: Vec<&str> =
        list.body["items"].as_array().unwrap().iter().map(|m| m["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "ticket").count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| **o == "ignored").count(), 1, "{outcomes:?}");
    assert!(list.body["items"].as_array().unwrap().iter().all(|m| m["channel"] == "imap"));

    // With a mailbox to move stored messages to, they leave INBOX.
    let mut s = session(&d).await;
    s.create("Processed").await.unwrap();
    s.logout().await.unwrap();
    append(&d, &[message("i2", "user1@example.com", "Keyboard sticky")]).await;
    let moved = poll_once(&d.config(Some("Processed")), &app.desk).await.unwrap();
    assert_eq!(moved.recorded, 1);
    assert_eq!(count(&d, "ALL").await, 3, "the moved message left INBOX");
}

#[tokio::test]
async fn a_crash_on_either_side_of_storing_loses_nothing_and_doubles_nothing() {
    let Some(d) = skip_without_dovecot("imap: crash between fetch and store") else { return };
    let app = TestApp::new().await;
    app.user(1, "employee").await;
    // A claim lasts to the end of its `claim_secs` window (windows start at multiples of it):
    // the claim assertions start at the beginning of a window long enough for two rounds on a
    // slow machine, and the retry waits for the next window.
    let mut cfg = d.config(None);
    cfg.claim_secs = 4;

    // Fetched, then the help desk could not store it (its attachment store fails, as when the
    // process dies before the write): the message stays unmarked and nothing is recorded.
    let broken_dir = tempfile::tempdir().unwrap();
    let prefix = broken_dir.path().join("blobs");
    std::fs::create_dir(&prefix).unwrap();
    let blobs = object_store::local::LocalFileSystem::new_with_prefix(&prefix).unwrap();
    std::fs::remove_dir(&prefix).unwrap();
    std::fs::write(&prefix, b"not a directory").unwrap();
    let broken = helpdesk_core::HelpDesk::builder(app.store.clone(), Arc::new(blobs))
        .options(app.desk.options().clone())
        .build()
        .unwrap();
    let first = message("c1", "user1@example.com", "Crash before store");
    append(&d, std::slice::from_ref(&first)).await;
    sleep_to_window_start(cfg.claim_secs).await;
    let r = poll_once(&cfg, &broken).await.unwrap();
    assert_eq!(r, Round { deferred: 1, ..Round::default() });
    assert_eq!(count(&d, &format!("UNKEYWORD {STORED}")).await, 1, "left for the next round");
    // Another process leaves it to its claimer until the claim ends, then takes it.
    let r = poll_once(&cfg, &app.desk).await.unwrap();
    assert_eq!(r, Round { claimed_elsewhere: 1, ..Round::default() });
    sleep_to_window_start(cfg.claim_secs).await;
    let r = poll_once(&cfg, &app.desk).await.unwrap();
    assert_eq!(r, Round { recorded: 1, ..Round::default() });

    // Stored, then the poller died before marking it: the next round finds it stored.
    let second = message("c2", "user1@example.com", "Crash after store");
    append(&d, std::slice::from_ref(&second)).await;
    app.desk.ingest_mail(&Principal::System, second.as_bytes(), InboundChannel::Imap).await.unwrap();
    let r = poll_once(&cfg, &app.desk).await.unwrap();
    assert_eq!(r, Round { duplicates: 1, ..Round::default() });
    assert_eq!(count(&d, &format!("UNKEYWORD {STORED}")).await, 0);

    let list = app.get("/api/v1/tickets?limit=100", &app.admin).await;
    let subjects: Vec<&str> =
        list.body["items"].as_array().unwrap().iter().map(|t| t["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects.iter().filter(|s| **s == "Crash before store").count(), 1, "{subjects:?}");
    assert_eq!(subjects.iter().filter(|s| **s == "Crash after store").count(), 1, "{subjects:?}");
}

#[tokio::test]
async fn two_server_processes_polling_one_mailbox_store_each_message_once() {
    let Some(d) = skip_without_dovecot("imap: two processes, one mailbox") else { return };
    if let Some(why) = common::pg_missing() {
        helpdesk_core::testing::skip("imap: two processes, one mailbox", &why);
        return;
    }
    let db = common::fresh_database().await;
    let port = d.port.to_string();
    let env = [
        ("HELPDESK_MAIL_IN__TRUSTED_AUTHSERV_IDS", "[\"mx.desk.example\"]"),
        ("HELPDESK_MAIL_IN__IMAP__HOST", "127.0.0.1"),
        ("HELPDESK_MAIL_IN__IMAP__PORT", port.as_str()),
        ("HELPDESK_MAIL_IN__IMAP__TLS", "false"),
        ("HELPDESK_MAIL_IN__IMAP__USERNAME", "box"),
        ("HELPDESK_MAIL_IN__IMAP__PASSWORD", "secret"),
        ("HELPDESK_MAIL_IN__IMAP__POLL_SECS", "1"),
        ("HELPDESK_MAIL_IN__IMAP__CLAIM_SECS", "30"),
        ("HELPDESK_MAIL_IN__PER_SENDER_PER_HOUR", "1000"),
    ];
    let a = common::start_server_with(&db, &env);
    let b = common::start_server_with(&db, &env);
    for s in [&a, &b] {
        common::wait_ready(s.base.trim_end_matches("/api/v1")).await;
    }
    const N: usize = 40;
    let messages: Vec<String> =
        (0..N).map(|i| message(&format!("two{i}"), "admin@example.com", &format!("Two pollers {i}"))).collect();
    append(&d, &messages).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while count(&d, &format!("UNKEYWORD {STORED}")).await > 0 {
        assert!(std::time::Instant::now() < deadline, "the pollers did not store every message\n{}", d.log());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let client = reqwest::Client::new();
    let token = common::sign_in(&client, &a.base, "admin@example.com", common::SERVER_ADMIN_PASSWORD).await;
    let get = |path: String| {
        let (client, token) = (client.clone(), token.clone());
        async move { client.get(path).bearer_auth(token).send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    let inbound = get(format!("{}/mail/inbound?limit=100", a.base)).await;
    let items = inbound["items"].as_array().unwrap();
    assert_eq!(items.len(), N, "{inbound}");
    assert!(items.iter().all(|m| m["outcome"] == "ticket"), "{inbound}");
    let tickets = get(format!("{}/tickets?limit=100", b.base)).await;
    let subjects: std::collections::HashSet<&str> =
        tickets["items"].as_array().unwrap().iter().map(|t| t["subject"].as_str().unwrap()).collect();
    assert_eq!(tickets["items"].as_array().unwrap().len(), N, "one ticket per message");
    assert_eq!(subjects.len(), N);
}
