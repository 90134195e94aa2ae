//! The archive between the two real stores: a sled store seeded with every kind of record
//! goes to an archive, into PostgreSQL, out again, and into a new sled store; the three
//! archives hold the same records byte for byte (each part's SHA-256), passwords verify on
//! PostgreSQL and on the last sled store, delivery states are kept, and numbering continues
//! after the highest number on both. Runs against the throwaway cluster `scripts/test.sh`
//! starts; skips loudly without one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use helpdesk_core::archive::{self, ExportOptions, ImportOptions, Manifest};
use helpdesk_core::model::OutboxState;
use helpdesk_core::password::Password;
use helpdesk_core::ports::{PageSize, Store};
use helpdesk_core::testing::ManualClock;
use helpdesk_core::testing::seed::{SEED_PASSWORD, seed_desk, seed_every_kind};
use helpdesk_core::{LoginRequest, NewTicket};
use helpdesk_storage_postgres::{PgOptions, PgStore};
use helpdesk_storage_sled::{SledOptions, SledStore};
use object_store::memory::InMemory;

const ALL: ExportOptions = ExportOptions { sessions: true, attachments: true };

fn parts(m: &Manifest) -> Vec<(String, u64, String)> {
    m.parts.iter().map(|p| (p.name.clone(), p.records, p.sha256.clone())).collect()
}

async fn states(store: &dyn Store) -> Vec<usize> {
    let mut out = Vec::new();
    for s in [OutboxState::Pending, OutboxState::Delivered, OutboxState::Dead] {
        out.push(store.list_outbox(s, None, PageSize::new(PageSize::MAX).unwrap()).await.unwrap().items.len());
    }
    out
}

/// Every seeded user signs in, and a new ticket gets a number above every imported one.
async fn still_works(store: Arc<dyn Store>, blobs: Arc<InMemory>, clock: Arc<ManualClock>, sign_ins: &[String]) -> u64 {
    let desk = seed_desk(store.clone(), blobs, clock);
    let mut employee = None;
    for email in sign_ins {
        let login = LoginRequest { email: email.clone(), password: Password::new(SEED_PASSWORD), address: None };
        let s = desk.login(login).await.unwrap_or_else(|e| panic!("{email} cannot sign in: {e}"));
        if email.starts_with("emp") {
            employee = Some(desk.authenticate_session(s.session.id).await.unwrap().0);
        }
    }
    let new = NewTicket {
        subject: "After the move".into(),
        category: "hardware".into(),
        sub_category: "laptop".into(),
        description: "Filed on the new store".into(),
        scheduled_date: None,
        fields: Default::default(),
    };
    desk.create_ticket(&employee.unwrap(), new, None).await.unwrap().number.seq()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_to_postgres_to_sled_keeps_every_record() {
    if let Some(why) = common::pg_missing() {
        helpdesk_core::testing::skip("sled_to_postgres_to_sled_keeps_every_record", &why);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::default_start();
    let sled: Arc<dyn Store> = Arc::new(SledStore::open(&SledOptions::temporary()).unwrap());
    let sled_blobs = Arc::new(InMemory::new());
    let seeded = seed_every_kind(sled.clone(), sled_blobs.clone(), clock.clone()).await;
    let last = seeded.tickets.iter().map(|n| n.seq()).max().unwrap();

    let a = dir.path().join("from-sled.tar.gz");
    let m_a = archive::export(sled.as_ref(), sled_blobs.as_ref(), ALL, &a).await.unwrap();

    let pg = PgStore::connect(&common::fresh_database().await, &PgOptions::default()).await.unwrap();
    pg.migrate().await.unwrap();
    let pg: Arc<dyn Store> = Arc::new(pg);
    let pg_blobs = Arc::new(InMemory::new());
    archive::import(pg.as_ref(), pg_blobs.as_ref(), &a, ImportOptions::default()).await.unwrap();
    let b = dir.path().join("from-postgres.tar.gz");
    let m_b = archive::export(pg.as_ref(), pg_blobs.as_ref(), ALL, &b).await.unwrap();
    assert_eq!(parts(&m_a), parts(&m_b), "sled → PostgreSQL changed a record");
    assert_eq!(states(sled.as_ref()).await, states(pg.as_ref()).await);

    let sled2: Arc<dyn Store> = Arc::new(SledStore::open(&SledOptions::temporary()).unwrap());
    let sled2_blobs = Arc::new(InMemory::new());
    archive::import(sled2.as_ref(), sled2_blobs.as_ref(), &b, ImportOptions::default()).await.unwrap();
    let c = dir.path().join("back-to-sled.tar.gz");
    let m_c = archive::export(sled2.as_ref(), sled2_blobs.as_ref(), ALL, &c).await.unwrap();
    assert_eq!(parts(&m_b), parts(&m_c), "PostgreSQL → sled changed a record");
    assert_eq!(m_a.ticket_number_high_water, m_c.ticket_number_high_water);
    let first = seeded.tickets[0].clone();
    let t = pg.ticket_by_number(&first).await.unwrap().unwrap();
    assert_eq!(pg.history(t.id).await.unwrap(), sled.history(t.id).await.unwrap());

    assert!(still_works(pg, pg_blobs, clock.clone(), &seeded.sign_ins).await > last);
    assert!(still_works(sled2, sled2_blobs, clock, &seeded.sign_ins).await > last);
}
