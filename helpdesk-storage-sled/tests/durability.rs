//! Durability machinery: every acknowledged write waited for a flush (counted), concurrent
//! writers share flushes (group commit), data survives a reopen, a second opener gets a clear
//! error, a newer on-disk schema is refused, and an older one is upgraded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::sync::Arc;

use helpdesk_core::domain::{Role, UserStatus};
use helpdesk_core::ports::{Store, TicketStore, UnitOfWork, UnitOfWorkStore, Versioned};
use helpdesk_core::testing::fixtures::{event, t0, ticket, user};
use helpdesk_storage_sled::{OpenError, SledOptions, SledStore};

/// How long a reopen in this process may wait for the last close to let go of the lock.
const REOPEN: std::time::Duration = std::time::Duration::from_secs(10);

/// `sled::open` right after a store on `path` was dropped (see `SledStore::reopen`).
fn raw_reopen(path: &std::path::Path) -> sled::Db {
    let deadline = std::time::Instant::now() + REOPEN;
    loop {
        match sled::open(path) {
            Ok(db) => return db,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("reopening {}: {e}", path.display()),
        }
    }
}

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
    let store = SledStore::reopen(&opts, REOPEN).unwrap();
    assert_eq!(store.ticket(t.id).await.unwrap().as_ref(), Some(&t));
    // The lists' index lives in memory: it is built again from the rows.
    let listed = store.list_tickets(&helpdesk_core::ports::TicketQuery::default()).await.unwrap();
    assert_eq!(listed.items, vec![t]);
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
    match SledStore::reopen(&SledOptions::new(&path), REOPEN) {
        Err(OpenError::NewerSchema { found: 99, supported, .. })
            if supported == helpdesk_storage_sled::SCHEMA_VERSION => {}
        other => panic!("expected a schema error, got {other:?}"),
    }
}

/// A database of schema 1 (ticket rows as bare bincode of `Ticket`, timestamps as text; users
/// as JSON) opens as the current schema, through every step: every ticket row is rewritten, reads give the same tickets, lists and counts
/// still find them, and an upgrade interrupted half-way finishes on the next open.
#[tokio::test]
async fn a_schema_1_database_is_upgraded() {
    use helpdesk_core::ports::{PageSize, TicketQuery};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let u = user(1, Role::Employee, UserStatus::Approved);
    let mut tickets = Vec::new();
    {
        let store = SledStore::open(&SledOptions::new(&path)).unwrap();
        let mut uow = UnitOfWork::new();
        uow.users.push(Versioned::insert(u.clone()));
        for seq in 1..=2_500u64 {
            let mut t = ticket(seq, u.id, t0() + chrono::Duration::nanoseconds(seq as i64 * 1_234_567));
            t.scheduled_date = chrono::NaiveDate::from_ymd_opt(2027, 1, 1 + (seq % 28) as u32);
            t.resolved_at = (seq % 3 == 0).then(|| t.created_at + chrono::Duration::hours(1));
            uow.tickets.push(Versioned::insert(t.clone()));
            tickets.push(t);
        }
        store.commit(uow).await.unwrap();
    }
    // Turn the database back into schema 1: the old row layout and the old version number.
    // The first 1,200 rows stay in the new layout, as after an upgrade that stopped half-way.
    {
        let db = raw_reopen(&path);
        let rows = db.open_tree("tickets").unwrap();
        for t in &tickets[1_200..] {
            rows.insert(t.id.as_uuid().as_bytes(), bincode::serialize(t).unwrap()).unwrap();
        }
        // Users were JSON in schema 1.
        db.open_tree("users").unwrap().insert(u.id.as_uuid().as_bytes(), serde_json::to_vec(&u).unwrap()).unwrap();
        db.open_tree("meta").unwrap().insert("schema_version", &1u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    {
        let store = SledStore::reopen(&SledOptions::new(&path), REOPEN).unwrap();
        for t in &tickets {
            assert_eq!(store.ticket_by_number(&t.number).await.unwrap().as_ref(), Some(t));
        }
        assert_eq!(helpdesk_core::ports::UserStore::user(&store, u.id).await.unwrap().as_ref(), Some(&u));
        let q = TicketQuery { limit: PageSize::new(100).unwrap(), ..TicketQuery::default() };
        let page = store.list_tickets(&q).await.unwrap();
        assert_eq!(page.items.len(), 100);
        assert_eq!(page.items[0], tickets[2_499]);
    }
    let db = raw_reopen(&path);
    let version = db.open_tree("meta").unwrap().get("schema_version").unwrap().unwrap();
    assert_eq!(version.as_ref(), &helpdesk_storage_sled::SCHEMA_VERSION.to_be_bytes());
    for (tree, tag) in [("tickets", 8), ("users", 2)] {
        for kv in db.open_tree(tree).unwrap().iter() {
            let (_, row) = kv.unwrap();
            assert_eq!(row[0], tag, "a row of {tree} was left in the old layout");
        }
    }
}

/// Schema 4 kept 13 list entries a ticket in `ticket_idx`; schema 5 keeps the lists' index in
/// memory. The upgrade deletes the old entries (whatever their tag), keeps the service-level
/// alert moments, and the lists, built from the rows at opening, still find every ticket.
#[tokio::test]
async fn a_schema_4_database_loses_its_list_entries_and_keeps_its_alerts() {
    use helpdesk_core::ports::{PageSize, TicketQuery};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let u = user(1, Role::Employee, UserStatus::Approved);
    let mut tickets = Vec::new();
    {
        let store = SledStore::open(&SledOptions::new(&path)).unwrap();
        let mut uow = UnitOfWork::new();
        uow.users.push(Versioned::insert(u.clone()));
        for seq in 1..=300u64 {
            let mut t = ticket(seq, u.id, t0() + chrono::Duration::seconds(seq as i64));
            if seq % 10 == 0 {
                t.sla.alerts = vec![t0() + chrono::Duration::hours(seq as i64)];
            }
            uow.tickets.push(Versioned::insert(t.clone()));
            tickets.push(t);
        }
        store.commit(uow).await.unwrap();
    }
    let alerts = {
        let db = raw_reopen(&path);
        let idx = db.open_tree("ticket_idx").unwrap();
        let alerts: Vec<_> = idx.iter().keys().map(|k| k.unwrap()).collect();
        assert_eq!(alerts.len(), 30, "schema 5 keeps only alert moments in ticket_idx");
        // Schema 4's list entries: one per (filter, sort) tag before the alerts' 7 (and one
        // after it, in case a build wrote such a key).
        for (n, t) in tickets.iter().enumerate() {
            for tag in [0u8, 1, 2, 3, 4, 5, 6, 8] {
                let key = [&[tag, 0, (n % 5) as u8][..], t.id.as_uuid().as_bytes()].concat();
                idx.insert(key, &[]).unwrap();
            }
        }
        db.open_tree("meta").unwrap().insert("schema_version", &4u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
        alerts
    };
    {
        let store = SledStore::reopen(&SledOptions::new(&path), REOPEN).unwrap();
        // (The fixture has no history or number counter: only the index findings matter here.)
        let problems = store.check_consistency().unwrap().problems;
        assert!(problems.iter().all(|p| !p.contains("index")), "{problems:?}");
        let q = TicketQuery { limit: PageSize::new(50).unwrap(), ..TicketQuery::default() };
        let page = store.list_tickets(&q).await.unwrap();
        assert_eq!(page.items.first(), tickets.last());
        assert_eq!(store.ticket_counts(&q).await.unwrap().iter().map(|(_, n)| n).sum::<u64>(), 300);
    }
    let db = raw_reopen(&path);
    let left: Vec<_> = db.open_tree("ticket_idx").unwrap().iter().keys().map(|k| k.unwrap()).collect();
    assert_eq!(left, alerts);
    let version = db.open_tree("meta").unwrap().get("schema_version").unwrap().unwrap();
    assert_eq!(version.as_ref(), &helpdesk_storage_sled::SCHEMA_VERSION.to_be_bytes());
}
