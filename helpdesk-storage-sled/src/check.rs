//! A full consistency check: rows, indexes, counters, history and outbox agree. The crash test
//! runs it after every restart; operators can run it too. It reports, it never repairs.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use helpdesk_core::model::{HistoryEvent, OutboxRecord, OutboxState, Ticket, User};
use helpdesk_core::ports::StoreResult;

use crate::SledStore;
use crate::codec::{counter_value, dec, sled_err};
use crate::commit::resolved_key;
use crate::keys::index_keys;
use crate::outbox::{due_at, due_key, state_key};
use helpdesk_core::ports::{ticket_counter_keys, user_counter_keys};

/// What [`SledStore::check_consistency`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsistencyReport {
    /// Tickets.
    pub tickets: u64,
    /// Users.
    pub users: u64,
    /// History events.
    pub events: u64,
    /// Outbox messages.
    pub outbox: u64,
    /// Everything that disagrees (empty when consistent).
    pub problems: Vec<String>,
}

impl SledStore {
    /// Checks every ticket's indexes, number, counters and history, and the outbox indexes.
    ///
    /// # Errors
    /// Storage or decoding failures.
    pub fn check_consistency(&self) -> StoreResult<ConsistencyReport> {
        let t = &self.t;
        let mut r = ConsistencyReport::default();
        let mut expected_idx: HashSet<Vec<u8>> = HashSet::new();
        let mut counters: BTreeMap<String, i64> = BTreeMap::new();
        let mut max_seq = 0;
        let mut resolved = 0u64;
        for kv in t.tickets.iter() {
            let (_, v) = kv.map_err(sled_err)?;
            let tk: Ticket = crate::codec::dec_ticket(&v)?;
            r.tickets += 1;
            max_seq = max_seq.max(tk.number.seq());
            match t.ticket_numbers.get(tk.number.seq().to_be_bytes()).map_err(sled_err)? {
                Some(id) if id.as_ref() == tk.id.as_uuid().as_bytes() => {}
                _ => r.problems.push(format!("{}: number not mapped to the ticket", tk.number)),
            }
            for k in index_keys(&tk) {
                if !t.ticket_idx.contains_key(&k).map_err(sled_err)? {
                    r.problems.push(format!("{}: missing index entry", tk.number));
                }
                expected_idx.insert(k);
            }
            if let Some(k) = resolved_key(&tk) {
                resolved += 1;
                if !t.resolved_idx.contains_key(k).map_err(sled_err)? {
                    r.problems.push(format!("{}: missing resolved index entry", tk.number));
                }
            }
            for c in ticket_counter_keys(&tk) {
                *counters.entry(c).or_default() += 1;
            }
            let versions: BTreeSet<u64> = t
                .events
                .scan_prefix(tk.id.as_uuid().as_bytes())
                .map(|kv| kv.map_err(sled_err).and_then(|(_, v)| dec::<HistoryEvent>(&v)).map(|e| e.version))
                .collect::<StoreResult<_>>()?;
            r.events += versions.len() as u64;
            if versions != (1..=tk.version).collect() {
                r.problems
                    .push(format!("{}: history versions {:?} do not cover 1..={}", tk.number, versions, tk.version));
            }
        }
        if t.ticket_idx.len() != expected_idx.len() {
            r.problems.push(format!("{} index entries, expected {}", t.ticket_idx.len(), expected_idx.len()));
        }
        if self.list.len() as u64 != r.tickets {
            r.problems.push(format!("{} rows in the lists' index for {} tickets", self.list.len(), r.tickets));
        }
        if t.ticket_numbers.len() as u64 != r.tickets {
            r.problems.push(format!("{} numbers for {} tickets", t.ticket_numbers.len(), r.tickets));
        }
        if t.resolved_idx.len() as u64 != resolved {
            r.problems.push(format!("{} resolved index entries, expected {resolved}", t.resolved_idx.len()));
        }
        let seq = t
            .meta
            .get(crate::archive::TICKET_SEQ)
            .map_err(sled_err)?
            .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
            .map_or(0, u64::from_be_bytes);
        if seq < max_seq {
            r.problems.push(format!("the number counter {seq} is behind the highest number {max_seq}"));
        }
        for kv in t.users.iter() {
            let (_, v) = kv.map_err(sled_err)?;
            let u: User = crate::account_rows::decode_user(&v)?;
            r.users += 1;
            for c in user_counter_keys(&u) {
                *counters.entry(c).or_default() += 1;
            }
        }
        counters.insert("rejections".into(), t.rejections.len() as i64);
        for (k, want) in &counters {
            let got = counter_value(t.counters.get(k.as_bytes()).map_err(sled_err)?.as_deref());
            if got != *want {
                r.problems.push(format!("counter {k} is {got}, expected {want}"));
            }
        }
        for kv in t.counters.iter() {
            let (k, v) = kv.map_err(sled_err)?;
            let key = String::from_utf8_lossy(&k).into_owned();
            if !counters.contains_key(&key) && counter_value(Some(&v)) != 0 {
                r.problems.push(format!("stray counter {key}"));
            }
        }
        let mut pending = 0;
        for kv in t.outbox.iter() {
            let (_, v) = kv.map_err(sled_err)?;
            let rec: OutboxRecord = dec(&v)?;
            r.outbox += 1;
            if !t.outbox_state.contains_key(state_key(&rec)).map_err(sled_err)? {
                r.problems.push(format!("outbox {}: missing state entry", rec.message.id));
            }
            if rec.state == OutboxState::Pending {
                pending += 1;
                if !t.outbox_due.contains_key(due_key(due_at(&rec), rec.message.id)).map_err(sled_err)? {
                    r.problems.push(format!("outbox {}: missing due entry", rec.message.id));
                }
            }
        }
        if t.outbox_due.len() != pending {
            r.problems.push(format!("{} due entries for {pending} pending messages", t.outbox_due.len()));
        }
        if t.outbox_state.len() as u64 != r.outbox {
            r.problems.push(format!("{} state entries for {} messages", t.outbox_state.len(), r.outbox));
        }
        Ok(r)
    }
}
