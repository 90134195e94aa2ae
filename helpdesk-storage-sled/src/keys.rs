//! Order-preserving key encodings: big-endian integers with the sign bit flipped, raw UUID
//! bytes, and length-prefixed strings, so sled's byte order is the sort order we need.

use chrono::{DateTime, Utc};
use helpdesk_core::model::Ticket;
use helpdesk_core::ports::TicketSortField;

/// An `i64` as 8 bytes whose byte order is its numeric order.
pub(crate) fn i64_key(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

/// The inverse of [`i64_key`].
pub(crate) fn key_i64(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    (u64::from_be_bytes(a) ^ (1 << 63)) as i64
}

pub(crate) fn time_key(t: DateTime<Utc>) -> [u8; 8] {
    i64_key(t.timestamp_micros())
}

/// Builds keys from parts.
#[derive(Debug, Default)]
pub(crate) struct Key(pub Vec<u8>);

impl Key {
    pub(crate) fn new() -> Self {
        Self(Vec::with_capacity(48))
    }
    pub(crate) fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    pub(crate) fn bytes(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(v);
        self
    }
    pub(crate) fn uuid(self, u: uuid::Uuid) -> Self {
        self.bytes(u.as_bytes())
    }
    pub(crate) fn i64(self, v: i64) -> Self {
        self.bytes(&i64_key(v))
    }
    pub(crate) fn u64(self, v: u64) -> Self {
        self.bytes(&v.to_be_bytes())
    }
    pub(crate) fn time(self, t: DateTime<Utc>) -> Self {
        self.bytes(&time_key(t))
    }
    pub(crate) fn build(self) -> Vec<u8> {
        self.0
    }
}

/// The list-index dimensions of a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Dim {
    All = 0,
    Status = 1,
    Priority = 2,
    Department = 3,
    Category = 4,
    Requester = 5,
    Assignee = 6,
    /// Not a list filter: the service-level alert moments ([`alert_key`]).
    SlaAlert = 7,
}

pub(crate) const DIMS: [Dim; 7] =
    [Dim::All, Dim::Status, Dim::Priority, Dim::Department, Dim::Category, Dim::Requester, Dim::Assignee];
pub(crate) const SORTS: [TicketSortField; 5] = [
    TicketSortField::Created,
    TicketSortField::Updated,
    TicketSortField::Priority,
    TicketSortField::Number,
    TicketSortField::Due,
];

pub(crate) fn sort_tag(f: TicketSortField) -> u8 {
    match f {
        TicketSortField::Created => 0,
        TicketSortField::Updated => 1,
        TicketSortField::Priority => 2,
        TicketSortField::Number => 3,
        TicketSortField::Due => 4,
    }
}

/// The index value of a ticket for a dimension (empty for "none").
pub(crate) fn dim_value(t: &Ticket, d: Dim) -> Vec<u8> {
    match d {
        Dim::All => Vec::new(),
        Dim::Status => t.status.as_str().as_bytes().to_vec(),
        Dim::Priority => t.priority.map(|p| p.as_str().as_bytes().to_vec()).unwrap_or_default(),
        Dim::Department => t.department.as_ref().map(|d| d.as_str().as_bytes().to_vec()).unwrap_or_default(),
        Dim::Category => t.category.as_str().as_bytes().to_vec(),
        Dim::Requester => t.requester.as_uuid().as_bytes().to_vec(),
        Dim::Assignee => t.assignee.map(|a| a.as_uuid().as_bytes().to_vec()).unwrap_or_default(),
        Dim::SlaAlert => Vec::new(),
    }
}

/// The prefix of one (dimension, value, sort) index range.
pub(crate) fn index_prefix(d: Dim, value: &[u8], sort: TicketSortField) -> Vec<u8> {
    let mut k = Vec::with_capacity(20 + value.len());
    k.push(d as u8);
    k.push(value.len() as u8);
    k.extend_from_slice(value);
    k.push(sort_tag(sort));
    k
}

/// True when the index has entries for `d` sorted by `s`: every sort for "all" and status (the
/// triage queue), creation order for the other filters (13 entries a ticket, which keeps a
/// create at about two dozen key writes).
pub(crate) fn indexed(d: Dim, s: TicketSortField) -> bool {
    matches!(d, Dim::All | Dim::Status) || s == TicketSortField::Created
}

/// The index key of one service-level alert moment: [`Dim::SlaAlert`], the moment, the id.
pub(crate) fn alert_key(at: DateTime<Utc>, id: uuid::Uuid) -> Vec<u8> {
    Key::new().u8(Dim::SlaAlert as u8).time(at).uuid(id).build()
}

/// Every index key of a ticket: 13 list entries, two more for the due-time sort while a
/// service-level target runs (only such tickets have a due time), and one per alert moment.
pub(crate) fn index_keys(t: &Ticket) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(13 + 2 + t.sla.alerts.len());
    for at in &t.sla.alerts {
        out.push(alert_key(*at, t.id.as_uuid()));
    }
    for d in DIMS {
        let v = dim_value(t, d);
        let due = t.sla.due_at.is_some();
        for s in SORTS.into_iter().filter(|s| indexed(d, *s) && (due || *s != TicketSortField::Due)) {
            let sort =
                helpdesk_core::ports::TicketSort { field: s, direction: helpdesk_core::ports::SortDirection::Asc };
            let mut k = index_prefix(d, &v, s);
            k.extend_from_slice(&i64_key(sort.key(t)));
            k.extend_from_slice(t.id.as_uuid().as_bytes());
            out.push(k);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i64_keys_sort_numerically() {
        let vals = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        for w in vals.windows(2) {
            assert!(i64_key(w[0]) < i64_key(w[1]));
            assert_eq!(key_i64(&i64_key(w[0])), w[0]);
        }
    }
}
