//! How long a move between stores takes: a sled store with `N` tickets (each with 4 history
//! events, 2 comments and an attachment's metadata) and `N / 4` users is exported, imported
//! into PostgreSQL (when `DATABASE_URL` names a server whose user may create databases),
//! exported from there, and imported into a new sled store. Prints records per second of each
//! step and the archive's size.
//!
//! `DATABASE_URL=… cargo run --release -p helpdesk-http --example bench_archive -- 10000`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use chrono::Duration;
use helpdesk_core::archive::{self, ExportOptions, ImportOptions};
use helpdesk_core::domain::{AttachmentId, CommentBody, CommentId, FileName, Role, StorageKey, UserStatus};
use helpdesk_core::model::{ActorRef, Attachment, Comment};
use helpdesk_core::ports::{Store, UnitOfWork, Versioned};
use helpdesk_core::testing::fixtures::{event, t0, ticket, user};
use helpdesk_storage_postgres::{PgOptions, PgStore};
use helpdesk_storage_sled::{SledOptions, SledStore};
use object_store::memory::InMemory;

async fn seed(store: &dyn Store, tickets: u64) {
    let users: Vec<_> =
        (0..(tickets / 4).max(1) as u32).map(|n| user(n, Role::Employee, UserStatus::Approved)).collect();
    for chunk in users.chunks(500) {
        let uow = UnitOfWork { users: chunk.iter().cloned().map(Versioned::insert).collect(), ..UnitOfWork::new() };
        store.commit(uow).await.unwrap();
    }
    let mut seq = 0u64;
    while seq < tickets {
        let mut uow = UnitOfWork::new();
        for _ in 0..100.min(tickets - seq) {
            seq += 1;
            let at = t0() + Duration::seconds(seq as i64);
            let mut t = ticket(seq, users[(seq as usize) % users.len()].id, at);
            for v in 1..=4 {
                t.version = v;
                uow.events.push(event(&t, at + Duration::seconds(v as i64)));
            }
            for c in 0..2 {
                uow.comments.push(Comment {
                    id: CommentId::random(),
                    ticket: t.id,
                    author: ActorRef::User { id: t.requester },
                    body: CommentBody::parse(&format!("Comment {c} on ticket {seq}")).unwrap(),
                    internal: c == 1,
                    created_at: at + Duration::seconds(10 + c),
                });
            }
            let id = AttachmentId::random();
            uow.attachments.push(Attachment {
                id,
                ticket: t.id,
                comment: None,
                internal: false,
                file_name: FileName::sanitize("notes.txt"),
                content_type: "text/plain".into(),
                size: 12,
                sha256: "0".repeat(64),
                key: StorageKey::for_attachment(t.id, id),
                uploaded_by: ActorRef::User { id: t.requester },
                created_at: at + Duration::seconds(20),
            });
            uow.tickets.push(Versioned::insert(t));
        }
        store.commit(uow).await.unwrap();
    }
}

fn report(step: &str, records: u64, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    println!("{step:<28} {secs:>8.2} s  {:>9.0} tickets/s", records as f64 / secs);
}

#[tokio::main]
async fn main() {
    let n: u64 = std::env::args().nth(1).map_or(10_000, |a| a.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let blobs = InMemory::new();
    let sled = SledStore::open(&SledOptions::new(dir.path().join("a.sled"))).unwrap();
    seed(&sled, n).await;
    println!("{n} tickets (4 events, 2 comments, 1 attachment each), {} users", (n / 4).max(1));

    let a = dir.path().join("a.tar.gz");
    let started = Instant::now();
    archive::export(&sled, &blobs, ExportOptions::default(), &a).await.unwrap();
    report("export from sled", n, started);
    println!("archive: {:.1} MiB", std::fs::metadata(&a).unwrap().len() as f64 / 1048576.0);
    let started = Instant::now();
    archive::verify(&a).await.unwrap();
    report("verify (hashes, counts)", n, started);

    let mut from = a.clone();
    if let Ok(url) = std::env::var("DATABASE_URL") {
        let name = format!("hd_archive_bench_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.unwrap();
        let (base, _) = url.rsplit_once('/').unwrap();
        let pg = PgStore::connect(&format!("{base}/{name}"), &PgOptions::default()).await.unwrap();
        pg.migrate().await.unwrap();
        let started = Instant::now();
        archive::import(&pg, &blobs, &a, ImportOptions::default()).await.unwrap();
        report("import into PostgreSQL", n, started);
        from = dir.path().join("b.tar.gz");
        let started = Instant::now();
        archive::export(&pg, &blobs, ExportOptions::default(), &from).await.unwrap();
        report("export from PostgreSQL", n, started);
        drop(pg);
    } else {
        println!("(DATABASE_URL unset: PostgreSQL steps skipped)");
    }
    let target: Arc<dyn Store> = Arc::new(SledStore::open(&SledOptions::new(dir.path().join("c.sled"))).unwrap());
    let started = Instant::now();
    archive::import(target.as_ref(), &blobs, &from, ImportOptions::default()).await.unwrap();
    report("import into sled", n, started);
}
