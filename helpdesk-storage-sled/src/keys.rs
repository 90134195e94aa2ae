//! Order-preserving key encodings: big-endian integers with the sign bit flipped, raw UUID
//! bytes, and length-prefixed strings, so sled's byte order is the sort order we need.

use std::ops::Bound;

use chrono::{DateTime, Utc};
use helpdesk_core::model::Ticket;

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

/// The first byte of the keys of `ticket_idx`. Only service-level alert moments are left there;
/// tags 0–6 were the list entries of schema 4 and earlier (one per filter and sort), which the
/// lists now read from memory (`list_index.rs`) and [`upgrade_to_schema_5`] deletes.
pub(crate) const SLA_ALERT: u8 = 7;

/// The index key of one service-level alert moment: [`SLA_ALERT`], the moment, the id.
pub(crate) fn alert_key(at: DateTime<Utc>, id: uuid::Uuid) -> Vec<u8> {
    Key::new().u8(SLA_ALERT).time(at).uuid(id).build()
}

/// Every `ticket_idx` key of a ticket: one per service-level alert moment.
pub(crate) fn index_keys(t: &Ticket) -> Vec<Vec<u8>> {
    t.sla.alerts.iter().map(|at| alert_key(*at, t.id.as_uuid())).collect()
}

/// The upgrade from schema 4 to 5: deletes the list entries (every `ticket_idx` key but the
/// alert moments), in batches; safe to run again after it stopped half-way.
pub(crate) fn upgrade_to_schema_5(db: &sled::Db) -> sled::Result<()> {
    let idx = db.open_tree("ticket_idx")?;
    let below: (Bound<Vec<u8>>, Bound<Vec<u8>>) = (Bound::Unbounded, Bound::Excluded(vec![SLA_ALERT]));
    let above: (Bound<Vec<u8>>, Bound<Vec<u8>>) = (Bound::Included(vec![SLA_ALERT + 1]), Bound::Unbounded);
    for range in [below, above] {
        loop {
            let mut batch = sled::Batch::default();
            let mut n = 0;
            for k in idx.range(range.clone()).keys().take(4_096) {
                batch.remove(k?);
                n += 1;
            }
            if n == 0 {
                break;
            }
            idx.apply_batch(batch)?;
        }
    }
    db.flush()?;
    Ok(())
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
