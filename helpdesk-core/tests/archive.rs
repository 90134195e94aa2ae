//! Whole-store export and import (`helpdesk_core::archive`) over the in-memory store: a store
//! seeded with every kind of record goes out and comes back the same (a second export is
//! byte for byte the first), passwords still verify, delivered mail is not sent again,
//! numbering continues; a damaged archive and a non-empty target are refused before anything
//! is written. The same round trip through sled and PostgreSQL is in
//! `helpdesk-http/tests/archive_round_trip.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::sync::Arc;

use futures::StreamExt as _;
use helpdesk_core::archive::{self, ArchiveError, ExportOptions, ImportOptions, Manifest};
use helpdesk_core::domain::Email;
use helpdesk_core::model::OutboxState;
use helpdesk_core::password::Password;
use helpdesk_core::ports::{ArchiveStore, PageSize, SessionStore, Store, TicketStore, UserStore};
use helpdesk_core::testing::seed::{SEED_PASSWORD, seed_desk, seed_every_kind};
use helpdesk_core::testing::{InMemoryStore, ManualClock};
use helpdesk_core::{LoginRequest, NewTicket};
use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt as _};

const ALL: ExportOptions = ExportOptions { sessions: true, attachments: true };

fn parts(m: &Manifest) -> Vec<(String, u64, String)> {
    m.parts.iter().map(|p| (p.name.clone(), p.records, p.sha256.clone())).collect()
}

async fn outbox_states(store: &dyn Store) -> Vec<(OutboxState, usize)> {
    let mut out = Vec::new();
    for s in [OutboxState::Pending, OutboxState::Delivered, OutboxState::Dead] {
        let page = store.list_outbox(s, None, PageSize::new(PageSize::MAX).unwrap()).await.unwrap();
        out.push((s, page.items.len()));
    }
    out
}

#[tokio::test]
async fn every_record_goes_out_and_comes_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let (store, blobs) = (Arc::new(InMemoryStore::new()), Arc::new(InMemory::new()));
    let clock = ManualClock::default_start();
    let seeded = seed_every_kind(store.clone(), blobs.clone(), clock.clone()).await;
    let first = dir.path().join("first.tar.gz");
    let m1 = archive::export(store.as_ref(), blobs.as_ref(), ALL, &first).await.unwrap();
    for p in &m1.parts {
        assert!(p.records > 0, "the seed has no {}: {m1:?}", p.name);
    }
    assert_eq!(archive::verify(&first).await.unwrap(), m1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&first).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the archive is readable by others: {mode:o}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "a spool file was left behind");
    // Every ticket, whatever its status (closed, rejected, waiting, new), and every user.
    assert_eq!(m1.part("tickets.ndjson").unwrap().records, seeded.tickets.len() as u64);
    assert_eq!(m1.part("users.ndjson").unwrap().records, store.user_count().await.unwrap());

    let (target, target_blobs) = (Arc::new(InMemoryStore::new()), Arc::new(InMemory::new()));
    let report =
        archive::import(target.as_ref(), target_blobs.as_ref(), &first, ImportOptions::default()).await.unwrap();
    assert_eq!(report.blobs, m1.part("blobs.ndjson").unwrap().records);
    let second = dir.path().join("second.tar.gz");
    let m2 = archive::export(target.as_ref(), target_blobs.as_ref(), ALL, &second).await.unwrap();
    assert_eq!(parts(&m1), parts(&m2), "a record changed on the way");
    assert_eq!(m1.ticket_number_high_water, m2.ticket_number_high_water);
    // Saved settings come along: the service levels and the macros.
    use helpdesk_core::ports::SettingsStore as _;
    let macros = helpdesk_core::ports::DocumentKey::Macros;
    let (source_macros, _) = store.document(macros).await.unwrap().expect("the seed saved a macro");
    assert_eq!(target.document(macros).await.unwrap().map(|(d, _)| d), Some(source_macros));
    let views = helpdesk_core::ports::DocumentKey::Views;
    let (source_views, _) = store.document(views).await.unwrap().expect("the seed saved a view");
    assert_eq!(target.document(views).await.unwrap().map(|(d, _)| d), Some(source_views));
    assert_eq!(target.sla_spec().await.unwrap().map(|(s, _)| s), store.sla_spec().await.unwrap().map(|(s, _)| s));
    let fields = helpdesk_core::ports::DocumentKey::CustomFields;
    let (source_fields, _) = store.document(fields).await.unwrap().expect("the seed defined a field");
    assert_eq!(target.document(fields).await.unwrap().map(|(d, _)| d), Some(source_fields));
    let first = target.ticket_by_number(&seeded.tickets[0]).await.unwrap().unwrap();
    assert_eq!(first.fields.len(), 1, "custom field values come along");

    // Delivery states are kept: delivered mail is not sent again, the dead stays dead.
    assert_eq!(outbox_states(store.as_ref()).await, outbox_states(target.as_ref()).await);
    assert!(outbox_states(target.as_ref()).await.iter().all(|(_, n)| *n > 0));

    // Passwords verify, blobs came along, numbering continues.
    let desk = seed_desk(target.clone(), target_blobs.clone(), clock);
    for email in &seeded.sign_ins {
        let login = LoginRequest { email: email.clone(), password: Password::new(SEED_PASSWORD), address: None };
        desk.login(login).await.unwrap_or_else(|e| panic!("{email}: {e}"));
    }
    let a = target.ticket_by_number(&seeded.tickets[0]).await.unwrap().unwrap();
    for att in target.attachments(a.id).await.unwrap() {
        let bytes = target_blobs.get(&att.key.to_path()).await.unwrap().bytes().await.unwrap();
        let (_, expected) = seeded.files.iter().find(|(n, _)| n == att.file_name.as_str()).unwrap();
        assert_eq!(bytes.as_ref(), expected.as_slice());
    }
    let emp = target.user_by_email(&Email::parse("emp1@example.com").unwrap()).await.unwrap().unwrap();
    let avatar = emp.avatar.unwrap();
    assert!(target_blobs.get(&avatar.to_path()).await.is_ok());
    let login =
        LoginRequest { email: "emp1@example.com".into(), password: Password::new(SEED_PASSWORD), address: None };
    let s = desk.login(login).await.unwrap();
    let (p, _) = desk.authenticate_session(s.session.id).await.unwrap();
    let new = NewTicket {
        subject: "After the move".into(),
        category: "hardware".into(),
        sub_category: "laptop".into(),
        description: "Filed on the new store".into(),
        scheduled_date: None,
        fields: Default::default(),
    };
    let t = desk.create_ticket(&p, new, None).await.unwrap();
    assert!(seeded.tickets.iter().all(|n| n.seq() < t.number.seq()), "{} reused a number", t.number);
}

#[tokio::test]
async fn sessions_and_blobs_stay_out_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (store, blobs) = (Arc::new(InMemoryStore::new()), Arc::new(InMemory::new()));
    seed_every_kind(store.clone(), blobs.clone(), ManualClock::default_start()).await;
    let file = dir.path().join("plain.tar.gz");
    let m = archive::export(store.as_ref(), blobs.as_ref(), ExportOptions::default(), &file).await.unwrap();
    assert!(m.part("sessions.ndjson").is_none() && m.part("blobs.ndjson").is_none(), "{m:?}");
    assert!(!m.sessions && !m.attachments);
    let (target, target_blobs) = (Arc::new(InMemoryStore::new()), Arc::new(InMemory::new()));
    let r = archive::import(target.as_ref(), target_blobs.as_ref(), &file, ImportOptions::default()).await.unwrap();
    assert_eq!(r.blobs, 0);
    let admin = target.user_by_email(&Email::parse("admin@example.com").unwrap()).await.unwrap().unwrap();
    assert!(target.user_sessions(admin.id).await.unwrap().is_empty());
    assert_eq!(target.user_count().await.unwrap(), store.user_count().await.unwrap());
}

/// A change to an entry's bytes.
type Edit = fn(&mut Vec<u8>);

/// Rewrites the archive with `edit` applied to the bytes of entry `name`.
fn tamper(from: &std::path::Path, to: &std::path::Path, name: &str, edit: impl Fn(&mut Vec<u8>)) {
    let mut input = tar::Archive::new(flate2::read::GzDecoder::new(std::fs::File::open(from).unwrap()));
    let out = flate2::write::GzEncoder::new(std::fs::File::create(to).unwrap(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(out);
    for e in input.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_str().unwrap().to_owned();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        if path == name {
            edit(&mut bytes);
        }
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o600);
        header.set_cksum();
        builder.append_data(&mut header, &path, bytes.as_slice()).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

#[tokio::test]
async fn a_damaged_archive_or_a_store_in_use_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (store, blobs) = (Arc::new(InMemoryStore::new()), Arc::new(InMemory::new()));
    seed_every_kind(store.clone(), blobs.clone(), ManualClock::default_start()).await;
    let good = dir.path().join("good.tar.gz");
    archive::export(store.as_ref(), blobs.as_ref(), ALL, &good).await.unwrap();

    let cases: [(&str, &str, Edit); 4] = [
        ("a flipped byte in a record", "tickets.ndjson", |b| b[10] ^= 1),
        ("a record left out", "users.ndjson", |b| {
            let first_line = b.iter().position(|c| *c == b'\n').unwrap();
            b.drain(..=first_line);
        }),
        ("a changed blob", "blobs/000000", |b| b.push(b'!')),
        ("a newer format", "manifest.json", |b| {
            let s = String::from_utf8(b.clone()).unwrap().replace("\"format_version\": 1", "\"format_version\": 2");
            *b = s.into_bytes();
        }),
    ];
    for (what, entry, edit) in cases {
        let bad = dir.path().join("bad.tar.gz");
        tamper(&good, &bad, entry, edit);
        let (target, target_blobs) = (Arc::new(InMemoryStore::new()), Arc::new(InMemory::new()));
        let e = archive::import(target.as_ref(), target_blobs.as_ref(), &bad, ImportOptions::default()).await;
        assert!(matches!(e, Err(ArchiveError::Format(_))), "{what}: {e:?}");
        assert_eq!(target.user_count().await.unwrap(), 0, "{what}: written before the check");
        assert!(target_blobs.list(None).next().await.is_none(), "{what}: a blob written before the check");
    }
    let cut = dir.path().join("cut.tar.gz");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert!(archive::verify(&cut).await.is_err());

    // Into the seeded store itself: refused, unless allowed (and then the clashes stop it).
    let e = archive::import(store.as_ref(), blobs.as_ref(), &good, ImportOptions::default()).await;
    assert!(matches!(&e, Err(ArchiveError::NotEmpty(found)) if found.contains("users")), "{e:?}");
    let e = archive::import(store.as_ref(), blobs.as_ref(), &good, ImportOptions { allow_non_empty: true }).await;
    assert!(matches!(e, Err(ArchiveError::Store(_))), "{e:?}");
}

#[tokio::test]
async fn the_counter_continues_above_numbers_allocated_but_never_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (store, blobs) = (Arc::new(InMemoryStore::new()), Arc::new(InMemory::new()));
    let seeded = seed_every_kind(store.clone(), blobs.clone(), ManualClock::default_start()).await;
    // Creates that failed after taking a number leave the counter above the last ticket.
    for _ in 0..5 {
        store.allocate_ticket_number().await.unwrap();
    }
    let high = store.ticket_number_high_water().await.unwrap();
    let file = dir.path().join("a.tar.gz");
    archive::export(store.as_ref(), blobs.as_ref(), ExportOptions::default(), &file).await.unwrap();
    let target = Arc::new(InMemoryStore::new());
    let r = archive::import(target.as_ref(), &InMemory::new(), &file, ImportOptions::default()).await.unwrap();
    assert_eq!(r.ticket_number_high_water, high);
    assert!(high > seeded.tickets.last().unwrap().seq());
    assert_eq!(target.allocate_ticket_number().await.unwrap(), high + 1);
}
