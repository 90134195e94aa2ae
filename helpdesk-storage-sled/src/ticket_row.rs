//! The stored layout of a ticket row, and the upgrade from the previous one.
//!
//! Schema 1 kept a ticket as bincode of [`Ticket`] itself, where chrono writes every timestamp
//! (and the scheduled date) as RFC 3339 text: 38 bytes each, parsed back on every read. Parsing
//! them was the largest single cost of a list page read from sled (7% of the server's CPU).
//! Schema 2 writes a tag byte, then bincode of [`TicketRow`]: the same fields in the same order,
//! timestamps as (seconds, nanoseconds) and the date as days from the common era: 12 bytes a
//! timestamp instead of 38 (the sample ticket: 344 → 267 bytes), decoded without parsing text.
//!
//! A schema-1 row starts with the length of the id (16, a little-endian `u64`), so its first
//! byte is `0x10`, never [`TAG`]: [`decode`] reads both layouts, and [`upgrade_to_schema_2`]
//! rewrites the old rows in batches. The upgrade can stop anywhere (a crash, a full disk) and
//! run again on the next open: the schema version moves to 2 only after every row is
//! rewritten, and rows already in the new layout are left as they are.
//!
//! Schema 3 appends the service-level schedule ([`SlaRow`]) after the schema-2 fields, under
//! tag 3; a tag-2 row decodes with an empty schedule, and [`upgrade_to_schema_3`] rewrites
//! them (their schedules fill in at each ticket's next change).
//!
//! Schema 4 appends the satisfaction rating ([`SatisfactionRow`], an option) under tag 4; a
//! tag-3 row decodes unrated, and [`upgrade_to_schema_4`] rewrites them.
//!
//! Schema 6 appends the tags (a list of strings) under tag 5; a tag-4 row decodes untagged, and
//! [`upgrade_to_schema_6`] rewrites them.
//!
//! Schema 7 appends the followers (a list of user ids), the links to other tickets and the
//! ticket a merged one points to, under tag 6; a tag-5 row decodes without them, and
//! [`upgrade_to_schema_7`] rewrites them.
//!
//! Schema 8 appends the custom field values (their JSON, one string: a value is plain JSON
//! whose meaning comes from its definition, which bincode's positional layout cannot carry
//! untagged) under tag 7; a tag-6 row decodes without values, and [`upgrade_to_schema_8`]
//! rewrites them.
//!
//! Schema 9 writes the schema-8 fields with bincode's variable-length integers under tag 8:
//! lengths, enum variants, counts and small numbers take a byte instead of four or eight (the
//! sample ticket: 491 → 293 bytes; a ticket as the HTTP benchmark files it, 261 → 148). Ticket
//! rows are what the row cache holds (`row_cache.rs`), so its memory for the same tickets falls
//! by about a third. A tag-7 row (fixed-width integers) decodes as before, and
//! [`upgrade_to_schema_9`] rewrites them.
//!
//! bincode is positional: a field added, removed or moved in [`TicketRow`] changes every stored
//! ticket. `tests/stored/ticket.row.hex` pins the bytes; the old layout's bytes stay pinned in
//! `tests/stored/ticket.bincode.hex`, which the upgrade test reads.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use helpdesk_core::domain::{
    CategoryKey, DepartmentKey, Description, Priority, Subject, Tag, TicketId, TicketNumber, TicketStatus, UserId,
};
use helpdesk_core::model::{LinkKind, Rating, Satisfaction, SlaSchedule, Ticket, TicketLink};
use helpdesk_core::ports::StoreError;
use serde::{Deserialize, Serialize};

use crate::codec::corrupt;

/// The first byte of a schema-9 ticket row (the schema-8 fields, variable-length integers).
const TAG: u8 = 8;

/// The first byte of a schema-8 ticket row (fixed-width integers).
const SCHEMA_8_TAG: u8 = 7;

/// The first byte of a schema-7 ticket row.
const SCHEMA_7_TAG: u8 = 6;

/// The first byte of a schema-6 ticket row (no followers).
const SCHEMA_6_TAG: u8 = 5;

/// The first byte of a schema-4 ticket row (no tags).
const SCHEMA_4_TAG: u8 = 4;

/// The first byte of a schema-3 ticket row (no satisfaction rating).
const SCHEMA_3_TAG: u8 = 3;

/// The first byte of a schema-2 ticket row (no service-level schedule).
const SCHEMA_2_TAG: u8 = 2;

/// The first byte of every schema-1 ticket row (see the module docs).
const SCHEMA_1_FIRST_BYTE: u8 = 0x10;

/// Rows rewritten per batch by the upgrade.
const UPGRADE_BATCH: usize = 1_000;

/// A timestamp as seconds since the Unix epoch and nanoseconds (chrono's own parts: exact for
/// every value, leap seconds included).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct Stamp(i64, u32);

impl From<DateTime<Utc>> for Stamp {
    fn from(t: DateTime<Utc>) -> Self {
        Self(t.timestamp(), t.timestamp_subsec_nanos())
    }
}

impl Stamp {
    pub(crate) fn time(self) -> Result<DateTime<Utc>, StoreError> {
        DateTime::from_timestamp(self.0, self.1).ok_or_else(|| corrupt("a timestamp out of range"))
    }
}

/// A time as a row holds it: binary since schema 2, chrono's RFC 3339 text in schema 1.
trait RowTime {
    fn time(self) -> Result<DateTime<Utc>, StoreError>;
}

impl RowTime for Stamp {
    fn time(self) -> Result<DateTime<Utc>, StoreError> {
        Stamp::time(self)
    }
}

impl RowTime for DateTime<Utc> {
    fn time(self) -> Result<DateTime<Utc>, StoreError> {
        Ok(self)
    }
}

/// A date as a row holds it: days from the common era since schema 2, text in schema 1.
trait RowDate {
    fn date(self) -> Result<NaiveDate, StoreError>;
}

impl RowDate for i32 {
    fn date(self) -> Result<NaiveDate, StoreError> {
        NaiveDate::from_num_days_from_ce_opt(self).ok_or_else(|| corrupt("a date out of range"))
    }
}

impl RowDate for NaiveDate {
    fn date(self) -> Result<NaiveDate, StoreError> {
        Ok(self)
    }
}

/// [`Ticket`] as stored before the schedule: the same fields in the same order, times in
/// binary (`TicketRow<Stamp, i32>`, schema 2) or as chrono writes them (`TicketRow<DateTime<Utc>,
/// NaiveDate>`: schema 1, bincode of the `Ticket` of that time).
#[derive(Debug, Serialize, Deserialize)]
struct TicketRow<T = Stamp, D = i32> {
    id: TicketId,
    number: TicketNumber,
    requester: UserId,
    subject: Subject,
    category: CategoryKey,
    sub_category: CategoryKey,
    description: Description,
    /// Days from 0001-01-01 (day 1).
    scheduled_date: Option<D>,
    priority: Option<Priority>,
    department: Option<DepartmentKey>,
    status: TicketStatus,
    assignee: Option<UserId>,
    created_at: T,
    updated_at: T,
    first_response_at: Option<T>,
    resolved_at: Option<T>,
    closed_at: Option<T>,
    response_secs: Option<i64>,
    resolution_secs: Option<i64>,
    rejection_reason: Option<String>,
    workflow_linked: bool,
    version: u64,
}

/// The service-level schedule, as stored after the schema-2 fields.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SlaRow {
    due_at: Option<Stamp>,
    warn_at: Option<Stamp>,
    alerts: Vec<Stamp>,
}

/// A schema-3 row: the schema-2 fields, then the schedule (bincode writes nested fields in
/// order, so this is the flat layout of every field).
#[derive(Debug, Serialize, Deserialize)]
struct TicketRowV3 {
    row: TicketRow,
    sla: SlaRow,
}

/// The satisfaction rating, as stored after the schedule.
#[derive(Debug, Serialize, Deserialize)]
struct SatisfactionRow {
    rating: Rating,
    comment: Option<helpdesk_core::domain::Note>,
    rated_at: Stamp,
    ratings: u32,
}

/// A schema-4 row: the schema-3 fields, then the rating.
#[derive(Debug, Serialize, Deserialize)]
struct TicketRowV4 {
    row: TicketRow,
    sla: SlaRow,
    satisfaction: Option<SatisfactionRow>,
}

/// A schema-6 row: the schema-4 fields, then the tags.
#[derive(Debug, Serialize, Deserialize)]
struct TicketRowV5 {
    row: TicketRow,
    sla: SlaRow,
    satisfaction: Option<SatisfactionRow>,
    tags: Vec<Tag>,
}

/// A schema-7 row: the schema-6 fields, then the followers.
#[derive(Debug, Serialize, Deserialize)]
struct TicketRowV6 {
    row: TicketRow,
    sla: SlaRow,
    satisfaction: Option<SatisfactionRow>,
    tags: Vec<Tag>,
    followers: Vec<UserId>,
    links: Vec<LinkRow>,
    merged_into: Option<TicketNumber>,
}

/// A schema-8 row: the schema-7 fields, then the custom field values as JSON (empty when
/// none).
#[derive(Debug, Serialize, Deserialize)]
struct TicketRowV7 {
    v6: TicketRowV6,
    fields: String,
}

/// A link as a schema-7 row keeps it: the kind's index in [`LinkKind::ALL`], the other ticket.
#[derive(Debug, Serialize, Deserialize)]
struct LinkRow(u8, TicketNumber);

/// Encodes a ticket in the current layout.
pub(crate) fn encode(t: &Ticket) -> Result<Vec<u8>, StoreError> {
    let t = t.clone();
    let sla = SlaRow {
        due_at: t.sla.due_at.map(Stamp::from),
        warn_at: t.sla.warn_at.map(Stamp::from),
        alerts: t.sla.alerts.iter().copied().map(Stamp::from).collect(),
    };
    let satisfaction = t.satisfaction.map(|s| SatisfactionRow {
        rating: s.rating,
        comment: s.comment,
        rated_at: s.rated_at.into(),
        ratings: s.ratings,
    });
    let row = TicketRow {
        id: t.id,
        number: t.number,
        requester: t.requester,
        subject: t.subject,
        category: t.category,
        sub_category: t.sub_category,
        description: t.description,
        scheduled_date: t.scheduled_date.map(|d| d.num_days_from_ce()),
        priority: t.priority,
        department: t.department,
        status: t.status,
        assignee: t.assignee,
        created_at: t.created_at.into(),
        updated_at: t.updated_at.into(),
        first_response_at: t.first_response_at.map(Stamp::from),
        resolved_at: t.resolved_at.map(Stamp::from),
        closed_at: t.closed_at.map(Stamp::from),
        response_secs: t.response_secs,
        resolution_secs: t.resolution_secs,
        rejection_reason: t.rejection_reason,
        workflow_linked: t.workflow_linked,
        version: t.version,
    };
    let links = t
        .links
        .into_iter()
        .map(|l| LinkRow(LinkKind::ALL.iter().position(|k| *k == l.kind).unwrap_or(0) as u8, l.ticket))
        .collect();
    let v6 =
        TicketRowV6 { row, sla, satisfaction, tags: t.tags, followers: t.followers, links, merged_into: t.merged_into };
    let fields =
        if t.fields.is_empty() { String::new() } else { serde_json::to_string(&t.fields).map_err(crate::backend)? };
    let mut out = Vec::with_capacity(192);
    out.push(TAG);
    bincode::Options::serialize_into(varint(), &mut out, &TicketRowV7 { v6, fields }).map_err(crate::backend)?;
    Ok(out)
}

/// The bincode options of a schema-9 row: variable-length integers, little-endian, no trailing
/// bytes (bincode's `DefaultOptions`; the plain `bincode::serialize` of the older layouts
/// writes fixed-width integers).
fn varint() -> impl bincode::Options {
    bincode::Options::with_varint_encoding(bincode::DefaultOptions::new())
}

/// A schema-8 or schema-9 row's fields as a ticket.
fn from_v7(v7: TicketRowV7) -> Result<Ticket, StoreError> {
    let mut t = from_v6(v7.v6)?;
    if !v7.fields.is_empty() {
        t.fields = serde_json::from_str(&v7.fields).map_err(|_| corrupt("custom field values that do not decode"))?;
    }
    Ok(t)
}

/// Decodes a ticket row of any layout.
pub(crate) fn decode(b: &[u8]) -> Result<Ticket, StoreError> {
    match b.split_first() {
        Some((&TAG, rest)) => from_v7(bincode::Options::deserialize(varint(), rest).map_err(crate::backend)?),
        Some((&SCHEMA_8_TAG, rest)) => from_v7(bincode::deserialize(rest).map_err(crate::backend)?),
        Some((&SCHEMA_7_TAG, rest)) => {
            let v6: TicketRowV6 = bincode::deserialize(rest).map_err(crate::backend)?;
            from_v6(v6)
        }
        Some((&SCHEMA_6_TAG, rest)) => {
            let v5: TicketRowV5 = bincode::deserialize(rest).map_err(crate::backend)?;
            let mut t = from_row(v5.row, v5.sla, v5.satisfaction)?;
            t.tags = v5.tags;
            Ok(t)
        }
        Some((&SCHEMA_4_TAG, rest)) => {
            let v4: TicketRowV4 = bincode::deserialize(rest).map_err(crate::backend)?;
            from_row(v4.row, v4.sla, v4.satisfaction)
        }
        Some((&SCHEMA_3_TAG, rest)) => {
            let v3: TicketRowV3 = bincode::deserialize(rest).map_err(crate::backend)?;
            from_row(v3.row, v3.sla, None)
        }
        Some((&SCHEMA_2_TAG, rest)) => {
            let v2: TicketRow = bincode::deserialize(rest).map_err(crate::backend)?;
            from_row(v2, SlaRow::default(), None)
        }
        Some((&SCHEMA_1_FIRST_BYTE, _)) => {
            let v1: TicketRow<DateTime<Utc>, NaiveDate> = bincode::deserialize(b).map_err(crate::backend)?;
            from_row(v1, SlaRow::default(), None)
        }
        _ => Err(corrupt("an unknown layout")),
    }
}

/// A ticket from a schema-7 row.
fn from_v6(v6: TicketRowV6) -> Result<Ticket, StoreError> {
    let mut t = from_row(v6.row, v6.sla, v6.satisfaction)?;
    t.tags = v6.tags;
    t.followers = v6.followers;
    t.links = v6
        .links
        .into_iter()
        .map(|LinkRow(k, ticket)| {
            let kind = *LinkKind::ALL.get(usize::from(k)).ok_or_else(|| corrupt("an unknown link kind"))?;
            Ok(TicketLink { kind, ticket })
        })
        .collect::<Result<_, StoreError>>()?;
    t.merged_into = v6.merged_into;
    Ok(t)
}

fn from_row<T: RowTime, D: RowDate>(
    r: TicketRow<T, D>,
    sla: SlaRow,
    satisfaction: Option<SatisfactionRow>,
) -> Result<Ticket, StoreError> {
    fn opt<T: RowTime>(s: Option<T>) -> Result<Option<DateTime<Utc>>, StoreError> {
        s.map(RowTime::time).transpose()
    }
    Ok(Ticket {
        id: r.id,
        number: r.number,
        requester: r.requester,
        subject: r.subject,
        category: r.category,
        sub_category: r.sub_category,
        description: r.description,
        scheduled_date: r.scheduled_date.map(RowDate::date).transpose()?,
        priority: r.priority,
        department: r.department,
        status: r.status,
        assignee: r.assignee,
        created_at: r.created_at.time()?,
        updated_at: r.updated_at.time()?,
        first_response_at: opt(r.first_response_at)?,
        resolved_at: opt(r.resolved_at)?,
        closed_at: opt(r.closed_at)?,
        response_secs: r.response_secs,
        resolution_secs: r.resolution_secs,
        rejection_reason: r.rejection_reason,
        workflow_linked: r.workflow_linked,
        version: r.version,
        sla: SlaSchedule {
            due_at: sla.due_at.map(Stamp::time).transpose()?,
            warn_at: sla.warn_at.map(Stamp::time).transpose()?,
            alerts: sla.alerts.into_iter().map(Stamp::time).collect::<Result<_, _>>()?,
        },
        satisfaction: satisfaction
            .map(|s| -> Result<Satisfaction, StoreError> {
                Ok(Satisfaction {
                    rating: s.rating,
                    comment: s.comment,
                    rated_at: s.rated_at.time()?,
                    ratings: s.ratings,
                })
            })
            .transpose()?,
        tags: Vec::new(),
        followers: Vec::new(),
        links: Vec::new(),
        merged_into: None,
        fields: Default::default(),
    })
}

/// The upgrade from schema 8 to 9: rewrites every schema-8-layout ticket row with
/// variable-length integers.
pub(crate) fn upgrade_to_schema_9(db: &sled::Db) -> sled::Result<()> {
    let unsupported = |e: StoreError| sled::Error::Unsupported(e.to_string());
    rewrite(db, "tickets", SCHEMA_8_TAG, |v| encode(&decode(v).map_err(unsupported)?).map_err(unsupported))?;
    db.flush()?;
    Ok(())
}

/// The upgrade from schema 7 to 8: rewrites every schema-7-layout ticket row, without custom
/// field values.
pub(crate) fn upgrade_to_schema_8(db: &sled::Db) -> sled::Result<()> {
    let unsupported = |e: StoreError| sled::Error::Unsupported(e.to_string());
    rewrite(db, "tickets", SCHEMA_7_TAG, |v| encode(&decode(v).map_err(unsupported)?).map_err(unsupported))?;
    db.flush()?;
    Ok(())
}

/// The upgrade from schema 6 to 7: rewrites every schema-6-layout ticket row, unfollowed.
pub(crate) fn upgrade_to_schema_7(db: &sled::Db) -> sled::Result<()> {
    let unsupported = |e: StoreError| sled::Error::Unsupported(e.to_string());
    rewrite(db, "tickets", SCHEMA_6_TAG, |v| encode(&decode(v).map_err(unsupported)?).map_err(unsupported))?;
    db.flush()?;
    Ok(())
}

/// The upgrade from schema 5 to 6: rewrites every schema-4-layout ticket row, untagged.
pub(crate) fn upgrade_to_schema_6(db: &sled::Db) -> sled::Result<()> {
    let unsupported = |e: StoreError| sled::Error::Unsupported(e.to_string());
    rewrite(db, "tickets", SCHEMA_4_TAG, |v| encode(&decode(v).map_err(unsupported)?).map_err(unsupported))?;
    db.flush()?;
    Ok(())
}

/// The upgrade from schema 3 to 4: rewrites every schema-3 ticket row, unrated.
pub(crate) fn upgrade_to_schema_4(db: &sled::Db) -> sled::Result<()> {
    let unsupported = |e: StoreError| sled::Error::Unsupported(e.to_string());
    rewrite(db, "tickets", SCHEMA_3_TAG, |v| encode(&decode(v).map_err(unsupported)?).map_err(unsupported))?;
    db.flush()?;
    Ok(())
}

/// The upgrade from schema 2 to 3: rewrites every schema-2 ticket row with an empty schedule
/// (filled in at the ticket's next change), like [`upgrade_to_schema_2`].
pub(crate) fn upgrade_to_schema_3(db: &sled::Db) -> sled::Result<()> {
    let unsupported = |e: StoreError| sled::Error::Unsupported(e.to_string());
    rewrite(db, "tickets", SCHEMA_2_TAG, |v| encode(&decode(v).map_err(unsupported)?).map_err(unsupported))?;
    db.flush()?;
    Ok(())
}

/// The upgrade from schema 1 to 2: rewrites every schema-1 ticket, user and session row in
/// the binary layouts, in batches (each one atomic), then flushes. Runs at open, before the
/// store serves anything.
pub(crate) fn upgrade_to_schema_2(db: &sled::Db) -> sled::Result<()> {
    let unsupported = |e: StoreError| sled::Error::Unsupported(e.to_string());
    rewrite(db, "tickets", SCHEMA_1_FIRST_BYTE, |v| encode(&decode(v).map_err(unsupported)?).map_err(unsupported))?;
    let json = crate::account_rows::JSON_FIRST_BYTE;
    rewrite(db, "users", json, |v| {
        crate::account_rows::encode_user(&crate::account_rows::decode_user(v).map_err(unsupported)?)
            .map_err(unsupported)
    })?;
    rewrite(db, "sessions", json, |v| {
        crate::account_rows::encode_session(&crate::account_rows::decode_session(v).map_err(unsupported)?)
            .map_err(unsupported)
    })?;
    db.flush()?;
    Ok(())
}

/// Re-encodes the rows of `tree` whose first byte is `old` with `f`.
fn rewrite(db: &sled::Db, tree: &str, old: u8, f: impl Fn(&[u8]) -> sled::Result<Vec<u8>>) -> sled::Result<()> {
    let rows = db.open_tree(tree)?;
    let mut batch = sled::Batch::default();
    let mut pending = 0;
    for kv in rows.iter() {
        let (key, value) = kv?;
        if value.first() != Some(&old) {
            continue;
        }
        batch.insert(key, f(&value)?);
        pending += 1;
        if pending == UPGRADE_BATCH {
            rows.apply_batch(std::mem::take(&mut batch))?;
            pending = 0;
        }
    }
    rows.apply_batch(batch)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use helpdesk_core::testing::stored::{StoredSamples, check_golden};

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>() + "\n"
    }

    fn unhex(text: &str) -> Vec<u8> {
        let text = text.trim();
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
    }

    fn stored_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/stored")
    }

    /// The current layout's bytes are pinned.
    #[test]
    fn ticket_rows_keep_their_bytes() {
        let bytes = super::encode(&StoredSamples::new().ticket).unwrap();
        check_golden(
            &stored_dir(),
            "ticket.row.hex",
            &hex(&bytes),
            "sled keeps tickets as a tagged bincode of `TicketRow` (ticket_row.rs): bump SCHEMA_VERSION (lib.rs) \
             with an upgrade step that re-encodes every ticket row from the old layout, and test it on a database \
             of the old version.",
        );
        assert_eq!(super::decode(&bytes).unwrap(), StoredSamples::new().ticket);
    }

    /// The sample ticket as layouts without a rating (or tags, or followers) keep it.
    fn unrated() -> helpdesk_core::model::Ticket {
        helpdesk_core::model::Ticket { satisfaction: None, tags: Vec::new(), ..unfollowed() }
    }

    /// The sample ticket as the schema-4 layout keeps it (rated, untagged, unfollowed).
    fn untagged() -> helpdesk_core::model::Ticket {
        helpdesk_core::model::Ticket { tags: Vec::new(), ..unfollowed() }
    }

    /// The sample ticket as the schema-6 layout keeps it (no followers, links or merge).
    fn unfollowed() -> helpdesk_core::model::Ticket {
        helpdesk_core::model::Ticket { followers: Vec::new(), links: Vec::new(), merged_into: None, ..without_fields() }
    }

    /// The sample ticket as the schema-7 layout keeps it (no custom field values).
    fn without_fields() -> helpdesk_core::model::Ticket {
        helpdesk_core::model::Ticket { fields: Default::default(), ..StoredSamples::new().ticket }
    }

    /// Schema-8-layout rows (their bytes pinned before integers took variable lengths) decode
    /// alike, and the upgrade rewrites them in the current layout, smaller.
    #[test]
    fn schema_8_rows_decode_and_upgrade() {
        let old = unhex(&std::fs::read_to_string(stored_dir().join("ticket.row.v8.hex")).unwrap());
        assert_eq!(old[0], super::SCHEMA_8_TAG);
        assert_eq!(super::decode(&old).unwrap(), StoredSamples::new().ticket);
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("tickets").unwrap().insert(b"t", old.clone()).unwrap();
        super::upgrade_to_schema_9(&db).unwrap();
        let row = db.open_tree("tickets").unwrap().get(b"t").unwrap().unwrap();
        assert_eq!(row[0], super::TAG);
        assert_eq!(super::decode(&row).unwrap(), StoredSamples::new().ticket);
        assert!(row.len() * 10 < old.len() * 7, "{} bytes against {}", row.len(), old.len());
    }

    /// Schema-7-layout rows (their bytes pinned before custom fields were added) decode
    /// without values, and the upgrade rewrites them in the current layout.
    #[test]
    fn schema_7_rows_decode_and_upgrade() {
        let old = unhex(&std::fs::read_to_string(stored_dir().join("ticket.row.v7.hex")).unwrap());
        assert_eq!(old[0], super::SCHEMA_7_TAG);
        assert_eq!(super::decode(&old).unwrap(), without_fields());
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("tickets").unwrap().insert(b"t", old).unwrap();
        super::upgrade_to_schema_8(&db).unwrap();
        let row = db.open_tree("tickets").unwrap().get(b"t").unwrap().unwrap();
        assert_eq!(row[0], super::TAG);
        assert_eq!(super::decode(&row).unwrap(), without_fields());
    }

    /// Schema-6-layout rows (their bytes pinned before followers were added) decode without
    /// followers, and the upgrade rewrites them in the current layout.
    #[test]
    fn schema_6_rows_decode_and_upgrade() {
        let old = unhex(&std::fs::read_to_string(stored_dir().join("ticket.row.v6.hex")).unwrap());
        assert_eq!(old[0], super::SCHEMA_6_TAG);
        assert_eq!(super::decode(&old).unwrap(), unfollowed());
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("tickets").unwrap().insert(b"t", old).unwrap();
        super::upgrade_to_schema_7(&db).unwrap();
        let row = db.open_tree("tickets").unwrap().get(b"t").unwrap().unwrap();
        assert_eq!(row[0], super::TAG);
        assert_eq!(super::decode(&row).unwrap(), unfollowed());
    }

    /// Schema-4-layout rows (their bytes pinned before tags were added) decode untagged, and
    /// the upgrade rewrites them in the current layout.
    #[test]
    fn schema_4_rows_decode_and_upgrade() {
        let old = unhex(&std::fs::read_to_string(stored_dir().join("ticket.row.v4.hex")).unwrap());
        assert_eq!(old[0], super::SCHEMA_4_TAG);
        assert_eq!(super::decode(&old).unwrap(), untagged());
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("tickets").unwrap().insert(b"t", old).unwrap();
        super::upgrade_to_schema_6(&db).unwrap();
        let row = db.open_tree("tickets").unwrap().get(b"t").unwrap().unwrap();
        assert_eq!(row[0], super::TAG);
        assert_eq!(super::decode(&row).unwrap(), untagged());
    }

    /// Schema-1 rows (their bytes pinned before the layout changed) still decode.
    #[test]
    fn schema_1_rows_still_decode() {
        let old = unhex(&std::fs::read_to_string(stored_dir().join("ticket.bincode.hex")).unwrap());
        assert_eq!(old[0], super::SCHEMA_1_FIRST_BYTE);
        assert_eq!(super::decode(&old).unwrap(), unrated());
        assert!(super::encode(&unrated()).unwrap().len() < old.len());
    }

    /// Schema-3 rows (their bytes pinned before the rating was added) decode unrated, and the
    /// upgrade rewrites them in the current layout.
    #[test]
    fn schema_3_rows_decode_and_upgrade() {
        let old = unhex(&std::fs::read_to_string(stored_dir().join("ticket.row.v3.hex")).unwrap());
        assert_eq!(old[0], super::SCHEMA_3_TAG);
        assert_eq!(super::decode(&old).unwrap(), unrated());
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("tickets").unwrap().insert(b"t", old).unwrap();
        super::upgrade_to_schema_4(&db).unwrap();
        let row = db.open_tree("tickets").unwrap().get(b"t").unwrap().unwrap();
        assert_eq!(row[0], super::TAG);
        assert_eq!(super::decode(&row).unwrap(), unrated());
    }

    /// Schema-2 rows (their bytes pinned before the schedule was added) decode with an empty
    /// schedule, and the upgrade rewrites them in the current layout.
    #[test]
    fn schema_2_rows_decode_and_upgrade() {
        let old = unhex(&std::fs::read_to_string(stored_dir().join("ticket.row.v2.hex")).unwrap());
        assert_eq!(old[0], super::SCHEMA_2_TAG);
        let sample = unrated();
        assert_eq!(super::decode(&old).unwrap(), sample);
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("tickets").unwrap().insert(b"t", old).unwrap();
        super::upgrade_to_schema_3(&db).unwrap();
        let row = db.open_tree("tickets").unwrap().get(b"t").unwrap().unwrap();
        assert_eq!(row[0], super::TAG);
        assert!(row.len() > 1);
        assert_eq!(super::decode(&row).unwrap(), sample);
    }

    /// A schedule survives the round trip.
    #[test]
    fn schedules_round_trip() {
        let mut t = StoredSamples::new().ticket;
        let at = t.created_at;
        t.sla = helpdesk_core::model::SlaSchedule {
            due_at: Some(at + chrono::Duration::hours(8)),
            warn_at: Some(at + chrono::Duration::hours(6)),
            alerts: vec![at + chrono::Duration::hours(6), at + chrono::Duration::hours(8)],
        };
        assert_eq!(super::decode(&super::encode(&t).unwrap()).unwrap(), t);
    }

    #[test]
    fn rows_of_neither_layout_are_refused() {
        assert!(super::decode(&[]).is_err());
        assert!(super::decode(&[9, 1, 2]).is_err());
        assert!(super::decode(&[super::TAG, 1, 2]).is_err());
        assert!(super::decode(&[super::SCHEMA_8_TAG, 1, 2]).is_err());
        let mut trailing = super::encode(&StoredSamples::new().ticket).unwrap();
        trailing.push(0);
        assert!(super::decode(&trailing).is_err(), "a row with bytes after its fields is refused");
    }
}
