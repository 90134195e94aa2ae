//! The stored form of every persisted record, against golden files in `tests/stored/`: a model
//! change that would change what the stores keep on disk fails here and names the schema step
//! it needs (see `helpdesk_core::testing::stored` and `model/mod.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use helpdesk_core::model::{
    ApiKey, Attachment, AuditEntry, Comment, HistoryEvent, Notice, OneTimeToken, OutboxRecord, RejectionRecord,
    Session, Ticket, User,
};
use helpdesk_core::testing::stored::{StoredSamples, check_golden};

const STEP: &str = "sled keeps rows as this JSON (tickets as bincode of the same fields) and PostgreSQL in `doc` \
columns: bump helpdesk-storage-sled's SCHEMA_VERSION with an upgrade step for existing rows (and add a PostgreSQL \
migration if a column is derived from the field), and keep old rows readable (serde defaults for new fields).";

#[test]
fn every_persisted_record_keeps_its_stored_form() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stored");
    for (name, json) in StoredSamples::new().as_json() {
        check_golden(&dir, &format!("{name}.json"), &json, STEP);
    }
}

#[test]
fn the_stored_forms_read_back_into_equal_records() {
    let s = StoredSamples::new();
    fn back<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(v: &T) {
        let json = serde_json::to_string(v).unwrap();
        assert_eq!(&serde_json::from_str::<T>(&json).unwrap(), v);
    }
    back::<User>(&s.user);
    back::<Ticket>(&s.ticket);
    back::<HistoryEvent>(&s.event);
    back::<Comment>(&s.comment);
    back::<Attachment>(&s.attachment);
    back::<Session>(&s.session);
    back::<OneTimeToken>(&s.one_time_token);
    back::<ApiKey>(&s.api_key);
    back::<AuditEntry>(&s.audit);
    back::<RejectionRecord>(&s.rejection);
    back::<OutboxRecord>(&s.outbox);
    back::<Notice>(&s.notice);
}
