//! Crash safety: a child process writes from several tasks while this test kills it with
//! SIGKILL at random moments, 20 rounds. After every restart every acknowledged write is
//! present, and rows, indexes, counters, history and outbox agree. A sled error on reopen fails
//! the test loudly; nothing is repaired.
//!
//! SIGKILL leaves the page cache intact, so this proves consistency and that nothing
//! acknowledged lived only in the process; `durability.rs` shows every acknowledged write was
//! flushed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use helpdesk_core::domain::TicketNumber;
use helpdesk_core::ports::TicketStore;
use helpdesk_storage_sled::{SledOptions, SledStore};
use rand::Rng;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_never_loses_an_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut rng = rand::thread_rng();
    let acked: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let started = Instant::now();
    let mut rounds = 0;
    while rounds < 20 && started.elapsed() < Duration::from_secs(120) {
        rounds += 1;
        let mut child = Command::new(env!("CARGO_BIN_EXE_helpdesk-sled-crash-child"))
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the child");
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let sink = acked.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line == "READY" {
                    let _ = ready_tx.send(());
                    continue;
                }
                let mut parts = line.split(' ');
                if let (Some("ACK"), Some(n), Some(v)) = (parts.next(), parts.next(), parts.next()) {
                    let v: u64 = v.parse().unwrap();
                    let mut m = sink.lock().unwrap();
                    let e = m.entry(n.to_owned()).or_insert(0);
                    *e = (*e).max(v);
                }
            }
        });
        ready_rx.recv_timeout(Duration::from_secs(30)).expect("the child did not get ready");
        std::thread::sleep(Duration::from_millis(rng.gen_range(20..400)));
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        reader.join().unwrap();

        let store = SledStore::open(&SledOptions::new(&path))
            .unwrap_or_else(|e| panic!("round {rounds}: sled refused to reopen: {e}"));
        let report = store.check_consistency().unwrap();
        assert!(
            report.problems.is_empty(),
            "round {rounds}: inconsistent after SIGKILL:\n{}",
            report.problems.join("\n")
        );
        let snapshot = acked.lock().unwrap().clone();
        for (number, version) in &snapshot {
            let t = store.ticket_by_number(&TicketNumber::parse(number).unwrap()).await.unwrap();
            let t = t.unwrap_or_else(|| panic!("round {rounds}: acknowledged ticket {number} is gone"));
            assert!(
                t.version >= *version,
                "round {rounds}: {number} went back from version {version} to {}",
                t.version
            );
        }
        assert!(report.tickets as usize >= snapshot.len());
        drop(store);
    }
    let total = acked.lock().unwrap().len();
    assert!(rounds >= 20, "only {rounds} rounds in the time bound");
    assert!(total > 20, "the child acknowledged only {total} tickets");
    eprintln!("crash test: {rounds} rounds, {total} acknowledged tickets, all present and consistent");
}
