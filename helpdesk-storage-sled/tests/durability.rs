//! Durability machinery: every acknowledged write waited for a flush (counted), concurrent
//! writers share flushes (group commit), data survives a reopen, a second opener gets a clear
//! error, and a newer on-disk schema is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::sync::Arc;

use helpdesk_core::domain::{Role, UserStatus};
use helpdesk_core::ports::{Store, TicketStore, UnitOfWork, UnitOfWorkStore, Versioned};
use helpdesk_core::testing::fixtures::{event, t0, ticket, user};
use helpdesk_storage_sled::{OpenError, SledOptions, SledStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_write_was_flushed_and_writers_share_flushes() {
    let store = Arc::new(SledStore::open(&SledOptions::temporary()).unwrap());
    let u = user(1, Role::Employee, UserStatus::Approved);
    let mut uow = UnitOfWork::new();
    uow.users.push(Versioned::insert(u.clone()));
    store.commit(uow).await.unwrap();
    let before = store.flush_stats();
    assert_eq!(before.acknowledged_writes, 1);
    assert!(before.flushes >= 1, "a write was acknowledged without a flush");

    let mut tasks = Vec::new();
    for w in 0..8u64 {
        let s = store.clone();
        let requester = u.id;
        tasks.push(tokio::spawn(async move {
            for i in 0..50u64 {
                let t = ticket(w * 1000 + i + 1, requester, t0());
                let mut uow = UnitOfWork::new();
                uow.tickets.push(Versioned::insert(t.clone()));
                uow.events.push(event(&t, t0()));
                s.commit(uow).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let after = store.flush_stats();
    let writes = after.acknowledged_writes - before.acknowledged_writes;
    let flushes = after.flushes - before.flushes;
    assert_eq!(writes, 400, "every commit is acknowledged only after a flush");
    assert!(flushes >= 1);
    eprintln!(
        "400 concurrent writes acknowledged with {flushes} flushes ({:.2} flushes per write)",
        flushes as f64 / writes as f64
    );
    assert!(flushes < writes, "concurrent writers never shared a flush");
}

#[tokio::test]
async fn data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let opts = SledOptions::new(dir.path().join("db"));
    let u = user(1, Role::Employee, UserStatus::Approved);
    let t = ticket(1, u.id, t0());
    {
        let store = SledStore::open(&opts).unwrap();
        let mut uow = UnitOfWork::new();
        uow.users.push(Versioned::insert(u.clone()));
        uow.tickets.push(Versioned::insert(t.clone()));
        uow.events.push(event(&t, t0()));
        store.commit(uow).await.unwrap();
        assert_eq!(store.allocate_ticket_number().await.unwrap(), 1);
    }
    let store = SledStore::open(&opts).unwrap();
    assert_eq!(store.ticket(t.id).await.unwrap(), Some(t));
    assert!(store.check_consistency().unwrap().problems.is_empty());
    assert_eq!(store.allocate_ticket_number().await.unwrap(), 2, "numbers continue after a restart");
    let s: Arc<dyn Store> = Arc::new(store);
    s.ping().await.unwrap();
}

#[test]
fn a_second_opener_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let opts = SledOptions::new(dir.path().join("db"));
    let _first = SledStore::open(&opts).unwrap();
    match SledStore::open(&opts) {
        Err(e @ OpenError::Locked(_)) => assert!(e.to_string().contains("in use by another process")),
        other => panic!("expected a lock error, got {other:?}"),
    }
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = sled::open(&path).unwrap();
        db.open_tree("meta").unwrap().insert("schema_version", &99u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    match SledStore::open(&SledOptions::new(&path)) {
        Err(OpenError::NewerSchema { found: 99, supported: 1, .. }) => {}
        other => panic!("expected a schema error, got {other:?}"),
    }
}
