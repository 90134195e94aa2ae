//! The ticket lists' index, kept in memory: one fixed-size row per ticket with every field the
//! list filters and sorts read (status, priority, department, category, requester, assignee,
//! creation, update and due times, number), built from the ticket rows when the store opens
//! and changed by each commit right after sled accepted it, under the commit lock.
//!
//! Why not in sled: the on-disk index took 13 entries a ticket (every sort of every filter
//! cannot share one key order), and each lands in a different part of sled's index tree, so
//! they were half of a creation's cost (`benches/sled_ceiling.rs`: 2,730 creations/s with 13
//! entries, 8,971/s with 1). The index is derived data: the ticket rows are the truth, a crash
//! loses nothing, and sled is one process, so there is no other writer to keep up with. A row
//! is 72 bytes: 6.9 MiB at 100,000 tickets, which a scan filters in well under a millisecond.
//! The rows sit in chunks (`chunked.rs`), and a ticket's row is found by its number, which
//! also answers reads by number.
//!
//! Tags do not fit a fixed-size row: the tagged tickets' tags sit beside the rows, interned, in
//! a map by ticket id (most tickets carry none), and a tag filter looks a row's tags up there.
//! Followers sit beside the rows the same way (interned users, by ticket id), and so do custom
//! field values: per ticket, (interned key, hash of the value, sort key) entries, one per
//! option of a multiple choice. Values are hashed, not interned (free text would grow the
//! interner by a string a ticket); a hash collision can only let a row through to the
//! final check on the ticket itself, never hide one.
//!
//! A list reads the rows that pass the query's filters (all but the text filter) after its
//! cursor, orders just the page's worth of them, and reads those tickets from sled, checking
//! every filter again on the row itself (so a change that lands between the two reads is
//! never listed under a filter it no longer passes).

use std::collections::HashMap;
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use helpdesk_core::domain::TicketStatus;
use helpdesk_core::model::{FieldValue, Ticket};
use helpdesk_core::ports::{AssigneeFilter, SortDirection, TicketQuery, TicketSortField};

use crate::chunked::{Chunked, Positions};

/// "None" for the interned fields.
const NONE: u32 = u32::MAX;

/// A value a filter names that no ticket has (so it matches no row).
const UNKNOWN: u32 = u32::MAX - 1;

/// What the lists read of one ticket: 72 bytes (the id as two words, so the row is aligned to
/// 8 bytes, not to a `u128`'s 16, which padded it to 80).
#[derive(Debug, Clone, Copy)]
struct Row {
    id: [u64; 2],
    created: i64,
    updated: i64,
    /// The due time, `i64::MAX` without one (as `TicketSort::key` orders it).
    due: i64,
    number: u64,
    requester: u32,
    assignee: u32,
    department: u32,
    category: u32,
    /// Index in `TicketStatus::ALL`.
    status: u8,
    /// `Priority::rank`, 4 for none (as `TicketSort::key` orders it).
    priority: u8,
    has_due: bool,
}

impl Row {
    fn id(&self) -> u128 {
        (u128::from(self.id[0]) << 64) | u128::from(self.id[1])
    }
}

/// A `u128` as two words, high first (rows keep ids so: a `u128` field would align them to 16).
pub(crate) fn split(id: u128) -> [u64; 2] {
    [(id >> 64) as u64, id as u64]
}

/// Interns values as dense numbers (users, departments, categories: a few thousand at most).
#[derive(Debug, Default)]
struct Interner<K: std::hash::Hash + Eq> {
    ids: HashMap<K, u32>,
}

impl<K: std::hash::Hash + Eq> Interner<K> {
    fn intern(&mut self, k: K) -> u32 {
        let next = u32::try_from(self.ids.len()).unwrap_or(UNKNOWN - 1).min(UNKNOWN - 1);
        *self.ids.entry(k).or_insert(next)
    }
    fn get<Q>(&self, k: &Q) -> u32
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.ids.get(k).copied().unwrap_or(UNKNOWN)
    }
}

#[derive(Debug, Default)]
struct Table {
    rows: Chunked<Row>,
    /// Where each ticket number's row is in `rows`.
    positions: Positions,
    users: Interner<u128>,
    names: Interner<String>,
    /// The interned tags of each tagged ticket (`names`, prefix `g:`), sorted.
    tags: HashMap<u128, Box<[u32]>>,
    /// The interned followers of each followed ticket (`users`), sorted.
    followers: HashMap<u128, Box<[u32]>>,
    /// The custom field values of each ticket that has any: (interned key `names` with prefix
    /// `f:`, value hash, sort key), by key.
    fields: HashMap<u128, Box<[FieldEntry]>>,
    /// The latest creation time among the rows.
    created_max: i64,
    /// How far a row's creation time falls behind the latest of the rows before it, at most:
    /// rows are appended in about creation order (concurrent creations commit a few
    /// microseconds out of order; an import can be further off), so every row before row `i`
    /// was created no later than `rows[i].created + created_disorder`. A list in creation
    /// order stops its scan on that bound (see [`ListIndex::next_keys`]).
    created_disorder: i64,
}

impl Table {
    fn row(&mut self, t: &Ticket) -> Row {
        Row {
            id: split(t.id.as_uuid().as_u128()),
            created: t.created_at.timestamp_micros(),
            updated: t.updated_at.timestamp_micros(),
            due: t.sla.due_at.map_or(i64::MAX, |d| d.timestamp_micros()),
            number: t.number.seq(),
            requester: self.users.intern(t.requester.as_uuid().as_u128()),
            assignee: t.assignee.map_or(NONE, |a| self.users.intern(a.as_uuid().as_u128())),
            department: t.department.as_ref().map_or(NONE, |d| self.names.intern(format!("d:{}", d.as_str()))),
            category: self.names.intern(format!("c:{}", t.category.as_str())),
            status: status_index(t.status),
            priority: t.priority.map_or(4, |p| p.rank()),
            has_due: t.sla.due_at.is_some(),
        }
    }

    fn upsert(&mut self, t: &Ticket) {
        let row = self.row(t);
        let id = row.id();
        if t.tags.is_empty() {
            self.tags.remove(&id);
        } else {
            let mut tags: Vec<u32> = t.tags.iter().map(|g| self.names.intern(format!("g:{}", g.as_str()))).collect();
            tags.sort_unstable();
            self.tags.insert(id, tags.into_boxed_slice());
        }
        if t.followers.is_empty() {
            self.followers.remove(&id);
        } else {
            let mut users: Vec<u32> = t.followers.iter().map(|f| self.users.intern(f.as_uuid().as_u128())).collect();
            users.sort_unstable();
            self.followers.insert(id, users.into_boxed_slice());
        }
        if t.fields.is_empty() {
            self.fields.remove(&id);
        } else {
            let entries = field_entries(&mut self.names, t);
            self.fields.insert(id, entries.into_boxed_slice());
        }
        match self.position(row.number, id).and_then(|i| self.rows.get_mut(i)) {
            Some(at) => {
                let old = std::mem::replace(at, row);
                if old.created != row.created {
                    // Never happens (the creation time does not change); if it did, the
                    // bound would no longer hold, so the scans go back to reading every row.
                    self.created_disorder = i64::MAX;
                }
            }
            None => {
                if self.rows.is_empty() {
                    self.created_max = row.created;
                }
                self.created_disorder = self.created_disorder.max(self.created_max.saturating_sub(row.created));
                self.created_max = self.created_max.max(row.created);
                let at = self.rows.push(row);
                self.positions.set(row.number, at);
            }
        }
    }

    /// Where ticket `id`, number `seq`, has its row (none for a ticket new to the index).
    /// Numbers are unique and never change, so the number's position is the ticket's; the id
    /// is checked all the same, and a mismatch (which the store's unique number entries rule
    /// out) falls back to a scan. A number without a position is a new ticket: no scan.
    fn position(&self, seq: u64, id: u128) -> Option<usize> {
        let i = self.positions.get(seq)?;
        if self.rows.get(i).is_some_and(|r| r.id() == id) {
            return Some(i);
        }
        self.rows.iter().position(|r| r.id() == id)
    }
}

/// One custom field value of a ticket (or one chosen option of a multiple choice).
#[derive(Debug, Clone, Copy)]
struct FieldEntry {
    key: u32,
    hash: u64,
    sort: i64,
}

/// The hash a field value (or one option of a multiple choice, as text) is filtered by.
fn value_hash(v: &FieldValue) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// The entries of a ticket's values.
fn field_entries(names: &mut Interner<String>, t: &Ticket) -> Vec<FieldEntry> {
    let mut out = Vec::new();
    for (k, v) in &t.fields {
        let key = names.intern(format!("f:{}", k.as_str()));
        match v {
            FieldValue::List(options) => out.extend(options.iter().map(|o| FieldEntry {
                key,
                hash: value_hash(&FieldValue::Text(o.clone())),
                sort: i64::MAX,
            })),
            other => out.push(FieldEntry { key, hash: value_hash(other), sort: other.sort_key() }),
        }
    }
    out
}

fn status_index(s: TicketStatus) -> u8 {
    TicketStatus::ALL.iter().position(|x| *x == s).map_or(u8::MAX, |i| i as u8)
}

/// A query's filters in the rows' terms.
struct Filter<'a> {
    statuses: Option<u32>,
    priorities: Option<u8>,
    departments: Option<Vec<u32>>,
    categories: Option<Vec<u32>>,
    requester: Option<u32>,
    assignee: Option<u32>,
    created_from: i64,
    created_to: i64,
    due_only: bool,
    due_before: Option<i64>,
    /// Interned tags: a row passes with any of `tags_any` and all of `tags_all`.
    tags_any: Option<Vec<u32>>,
    tags_all: Option<Vec<u32>>,
    tag_sets: &'a HashMap<u128, Box<[u32]>>,
    /// The interned follower a row's ticket must have.
    follower: Option<u32>,
    follower_sets: &'a HashMap<u128, Box<[u32]>>,
    /// Custom field filters: (interned key, the value hashes that must all be present).
    field_filters: Vec<(u32, Vec<u64>)>,
    /// The interned key of the custom field the list sorts by.
    sort_field: u32,
    field_sets: &'a HashMap<u128, Box<[FieldEntry]>>,
    field: TicketSortField,
    desc: bool,
    after: Option<(i64, u128)>,
}

impl<'a> Filter<'a> {
    fn new(table: &'a Table, q: &TicketQuery) -> Self {
        let tags = |v: &[helpdesk_core::domain::Tag]| -> Option<Vec<u32>> {
            (!v.is_empty()).then(|| v.iter().map(|g| table.names.get(&format!("g:{}", g.as_str()))).collect())
        };
        let mask = |bits: Vec<u8>| bits.into_iter().fold(0u32, |m, b| m | 1u32.checked_shl(u32::from(b)).unwrap_or(0));
        let names =
            |prefix: &str, v: Vec<&str>| v.into_iter().map(|s| table.names.get(&format!("{prefix}{s}"))).collect();
        Self {
            statuses: (!q.statuses.is_empty()).then(|| mask(q.statuses.iter().map(|s| status_index(*s)).collect())),
            priorities: (!q.priorities.is_empty()).then(|| mask(q.priorities.iter().map(|p| p.rank()).collect()) as u8),
            departments: (!q.departments.is_empty())
                .then(|| names("d:", q.departments.iter().map(|d| d.as_str()).collect())),
            categories: (!q.categories.is_empty())
                .then(|| names("c:", q.categories.iter().map(|c| c.as_str()).collect())),
            requester: q.requester.map(|r| table.users.get(&r.as_uuid().as_u128())),
            assignee: q.assignee.map(|a| match a {
                AssigneeFilter::Nobody => NONE,
                AssigneeFilter::User(u) => table.users.get(&u.as_uuid().as_u128()),
            }),
            created_from: q.created_from.map_or(i64::MIN, |t| t.timestamp_micros()),
            created_to: q.created_to.map_or(i64::MAX, |t| t.timestamp_micros()),
            due_only: q.sort.field == TicketSortField::Due,
            due_before: q.due_before.map(|t| t.timestamp_micros()),
            tags_any: tags(&q.tags_any),
            tags_all: tags(&q.tags_all),
            tag_sets: &table.tags,
            follower: q.follower.map(|f| table.users.get(&f.as_uuid().as_u128())),
            follower_sets: &table.followers,
            field_filters: q
                .fields
                .iter()
                .map(|f| {
                    let key = table.names.get(&format!("f:{}", f.key.as_str()));
                    let hashes = match &f.value {
                        FieldValue::List(options) => {
                            options.iter().map(|o| value_hash(&FieldValue::Text(o.clone()))).collect()
                        }
                        other => vec![value_hash(other)],
                    };
                    (key, hashes)
                })
                .collect(),
            sort_field: match q.sort.field {
                TicketSortField::Field(k) => table.names.get(&format!("f:{}", k.as_str())),
                _ => UNKNOWN,
            },
            field_sets: &table.fields,
            field: q.sort.field,
            desc: q.sort.direction == SortDirection::Desc,
            after: q.cursor.map(|c| (c.key, c.id.as_u128())),
        }
    }

    fn key(&self, r: &Row) -> i64 {
        match self.field {
            TicketSortField::Created => r.created,
            TicketSortField::Updated => r.updated,
            TicketSortField::Priority => i64::from(r.priority),
            TicketSortField::Number => i64::try_from(r.number).unwrap_or(i64::MAX),
            TicketSortField::Due => r.due,
            TicketSortField::Field(_) => self
                .field_sets
                .get(&r.id())
                .and_then(|es| es.iter().find(|e| e.key == self.sort_field))
                .map(|e| e.sort)
                .filter(|&k| k != i64::MAX)
                .unwrap_or(if self.desc { i64::MIN } else { i64::MAX }),
        }
    }

    /// True when the row's custom field values pass the field filters.
    fn fields_pass(&self, r: &Row) -> bool {
        if self.field_filters.is_empty() {
            return true;
        }
        let entries: &[FieldEntry] = self.field_sets.get(&r.id()).map_or(&[], |e| e);
        self.field_filters
            .iter()
            .all(|(key, hashes)| hashes.iter().all(|h| entries.iter().any(|e| e.key == *key && e.hash == *h)))
    }

    /// True when the row's tags pass the tag filters.
    fn tags_pass(&self, r: &Row) -> bool {
        if self.tags_any.is_none() && self.tags_all.is_none() {
            return true;
        }
        let tags: &[u32] = self.tag_sets.get(&r.id()).map_or(&[], |t| t);
        self.tags_any.as_ref().is_none_or(|any| any.iter().any(|g| tags.binary_search(g).is_ok()))
            && self.tags_all.as_ref().is_none_or(|all| all.iter().all(|g| tags.binary_search(g).is_ok()))
    }

    /// The row's sort position when it passes the filters and comes after the cursor.
    fn select(&self, r: &Row) -> Option<(i64, u128)> {
        let pass = self.statuses.is_none_or(|m| m & 1u32.checked_shl(u32::from(r.status)).unwrap_or(0) != 0)
            && self.priorities.is_none_or(|m| r.priority < 4 && m & (1 << r.priority) != 0)
            && self.departments.as_ref().is_none_or(|d| r.department != NONE && d.contains(&r.department))
            && self.categories.as_ref().is_none_or(|c| c.contains(&r.category))
            && self.requester.is_none_or(|u| u != NONE && r.requester == u)
            && self.assignee.is_none_or(|a| r.assignee == a)
            && r.created >= self.created_from
            && r.created < self.created_to
            && (!self.due_only || r.has_due)
            && self.due_before.is_none_or(|b| r.has_due && r.due < b)
            && self.tags_pass(r)
            && self.fields_pass(r)
            && self
                .follower
                .is_none_or(|f| self.follower_sets.get(&r.id()).is_some_and(|users| users.binary_search(&f).is_ok()));
        if !pass {
            return None;
        }
        let k = (self.key(r), r.id());
        match self.after {
            Some(c) if self.desc && k >= c => None,
            Some(c) if !self.desc && k <= c => None,
            _ => Some(k),
        }
    }
}

/// The in-memory list index. Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub(crate) struct ListIndex {
    table: RwLock<Table>,
}

impl ListIndex {
    /// Adds or replaces a ticket's row.
    pub(crate) fn upsert(&self, t: &Ticket) {
        self.table.write().unwrap_or_else(|e| e.into_inner()).upsert(t);
    }

    /// The first `k` (sort key, id) positions of the tickets passing `q`'s filters (all but the
    /// text filter) after `after` (not `q.cursor`: the caller continues from where the last
    /// call ended), in the query's order. One pass over the rows keeping the best `k` in a
    /// heap, so the cost is the number of tickets, not of matches times their logarithm, and
    /// nothing the size of the table is allocated.
    pub(crate) fn next_keys(&self, q: &TicketQuery, after: Option<(i64, u128)>, k: usize) -> Vec<(i64, u128)> {
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        let mut f = Filter::new(&table, q);
        f.after = after;
        let desc = f.desc;
        // Positions turned so that ascending is the query's order (`!` reverses integers).
        let turn = |(key, id): (i64, u128)| if desc { (!key, !id) } else { (key, id) };
        let mut best: std::collections::BinaryHeap<(i64, u128)> = std::collections::BinaryHeap::with_capacity(k + 1);
        // In creation order the scan starts at the end the order starts from, and stops once
        // no row left can come before the `k` it holds (`Table::created_disorder`).
        let by_created = f.field == TicketSortField::Created && table.created_disorder < i64::MAX / 4;
        let slack = table.created_disorder;
        let rows: Box<dyn Iterator<Item = &Row>> =
            if by_created && desc { Box::new(table.rows.iter().rev()) } else { Box::new(table.rows.iter()) };
        for r in rows {
            if by_created
                && best.len() == k
                && let Some(worst) = best.peek()
                && if desc {
                    !worst.0 > r.created.saturating_add(slack)
                } else {
                    worst.0 < r.created.saturating_sub(slack)
                }
            {
                break;
            }
            if let Some(pos) = f.select(r) {
                let pos = turn(pos);
                if best.len() < k {
                    best.push(pos);
                } else if best.peek().is_some_and(|worst| pos < *worst) {
                    best.pop();
                    best.push(pos);
                }
            }
        }
        drop(table);
        best.into_sorted_vec().into_iter().map(turn).collect()
    }

    /// The tickets passing `q`'s filters (all but the text filter) counted per status, in
    /// [`TicketStatus::ALL`] order, leaving out empty ones (as [`TicketQuery::tally`]).
    pub(crate) fn tally(&self, q: &TicketQuery) -> Vec<(TicketStatus, u64)> {
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        let f = Filter::new(&table, q);
        let mut n = [0u64; TicketStatus::ALL.len()];
        for r in table.rows.iter().filter(|r| f.select(r).is_some()) {
            if let Some(c) = n.get_mut(usize::from(r.status)) {
                *c += 1;
            }
        }
        TicketStatus::ALL.iter().zip(n).filter(|(_, c)| *c > 0).map(|(s, c)| (*s, c)).collect()
    }

    /// The ids of the tickets passing `q`'s filters (all but the text filter), unordered.
    pub(crate) fn ids(&self, q: &TicketQuery) -> Vec<uuid::Uuid> {
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        let f = Filter::new(&table, q);
        table.rows.iter().filter(|r| f.select(r).is_some()).map(|r| uuid::Uuid::from_u128(r.id())).collect()
    }

    /// Ids of the tickets created in `[from, to)`.
    pub(crate) fn created_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<uuid::Uuid> {
        let (from, to) = (from.timestamp_micros(), to.timestamp_micros());
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        table
            .rows
            .iter()
            .filter(|r| r.created >= from && r.created < to)
            .map(|r| uuid::Uuid::from_u128(r.id()))
            .collect()
    }

    /// How many tickets in status new were created at or after `since`: the rows from the
    /// newest back, until no row left can have been created since (`Table::created_disorder`),
    /// so the summary report's "waiting over a day" costs a day's tickets, with no index of
    /// its own (a set of the new tickets cost 64 bytes each, and a desk behind on triage has
    /// many).
    pub(crate) fn new_since(&self, since: DateTime<Utc>) -> u64 {
        let since = since.timestamp_micros();
        let new = status_index(TicketStatus::New);
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        let slack = table.created_disorder;
        let recent = table.rows.iter().rev().take_while(|r| r.created.saturating_add(slack) >= since);
        recent.filter(|r| r.status == new && r.created >= since).count() as u64
    }

    /// The id of ticket number `seq`, if the index holds it (a ticket's row joins the index
    /// right after its commit, under the commit lock).
    pub(crate) fn id_of(&self, seq: u64) -> Option<u128> {
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        let row = table.rows.get(table.positions.get(seq)?)?;
        (row.number == seq).then(|| row.id())
    }

    /// How many tickets it holds.
    pub(crate) fn len(&self) -> usize {
        self.table.read().unwrap_or_else(|e| e.into_inner()).rows.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(seq: u64, minutes: i64, status: TicketStatus) -> Ticket {
        let mut t = helpdesk_core::testing::fixtures::ticket(
            seq,
            helpdesk_core::domain::UserId::random(),
            helpdesk_core::testing::fixtures::t0() + chrono::Duration::minutes(minutes),
        );
        t.status = status;
        t
    }

    #[test]
    fn keys_come_out_in_order_from_any_position_in_either_direction() {
        let index = ListIndex::default();
        let mut tickets = Vec::new();
        for seq in 0..200u64 {
            // Many equal creation times, so the id breaks ties.
            let status = if seq % 3 == 0 { TicketStatus::Open } else { TicketStatus::New };
            let t = ticket(seq + 1, ((seq * 37) % 11) as i64, status);
            index.upsert(&t);
            tickets.push(t);
        }
        for direction in [SortDirection::Asc, SortDirection::Desc] {
            let q = TicketQuery {
                statuses: vec![TicketStatus::New],
                sort: helpdesk_core::ports::TicketSort { field: TicketSortField::Created, direction },
                ..TicketQuery::default()
            };
            let mut want: Vec<&Ticket> = tickets.iter().filter(|t| q.matches(t)).collect();
            want.sort_by(|a, b| q.sort.compare(a, b));
            let want: Vec<u128> = want.iter().map(|t| t.id.as_uuid().as_u128()).collect();
            let mut got = Vec::new();
            let mut after = None;
            for k in [1, 7, 50, 3, 1000, 5] {
                let keys = index.next_keys(&q, after, k);
                assert!(keys.len() <= k);
                if let Some(last) = keys.last() {
                    after = Some(*last);
                }
                got.extend(keys.iter().map(|(_, id)| *id));
            }
            assert_eq!(got, want, "{direction:?}");
        }
    }

    /// Rows appended out of creation order (concurrent commits, imports): the early stop of
    /// the creation-ordered scan still finds the right page, from any position.
    #[test]
    fn creation_order_pages_are_right_when_rows_arrive_out_of_order() {
        let index = ListIndex::default();
        let mut tickets = Vec::new();
        for seq in 0..300u64 {
            // Mostly increasing, with some rows late by up to 40 minutes and one far in the past.
            let late = if seq % 7 == 0 { 40 } else { 0 };
            let minutes = if seq == 150 { -10_000 } else { seq as i64 - late };
            let t = ticket(seq + 1, minutes, TicketStatus::New);
            index.upsert(&t);
            tickets.push(t);
        }
        for direction in [SortDirection::Asc, SortDirection::Desc] {
            let q = TicketQuery {
                sort: helpdesk_core::ports::TicketSort { field: TicketSortField::Created, direction },
                ..TicketQuery::default()
            };
            let mut want: Vec<&Ticket> = tickets.iter().collect();
            want.sort_by(|a, b| q.sort.compare(a, b));
            let want: Vec<u128> = want.iter().map(|t| t.id.as_uuid().as_u128()).collect();
            let (mut got, mut after) = (Vec::new(), None);
            loop {
                let keys = index.next_keys(&q, after, 13);
                if keys.is_empty() {
                    break;
                }
                after = keys.last().copied();
                got.extend(keys.iter().map(|(_, id)| *id));
            }
            assert_eq!(got, want, "{direction:?}");
        }
    }

    #[test]
    fn new_since_counts_rows_appended_out_of_creation_order() {
        let index = ListIndex::default();
        // Creation minutes in the order the rows arrive: mostly rising, a few late by up to 7.
        let minutes = [0, 5, 3, 10, 20, 13, 30, 31, 25, 40, 41, 42, 36, 50];
        let statuses = [TicketStatus::New, TicketStatus::Open, TicketStatus::New];
        for (seq, &m) in minutes.iter().enumerate() {
            index.upsert(&ticket(seq as u64 + 1, m, statuses[seq % 3]));
        }
        for since in -1..=51 {
            let want = minutes.iter().enumerate().filter(|&(i, &m)| i % 3 != 1 && m >= since).count() as u64;
            let at = helpdesk_core::testing::fixtures::t0() + chrono::Duration::minutes(since);
            assert_eq!(index.new_since(at), want, "since minute {since}");
        }
    }

    #[test]
    fn a_change_moves_a_ticket_between_filters_and_an_unknown_user_matches_nothing() {
        let index = ListIndex::default();
        let mut t = ticket(1, 0, TicketStatus::New);
        index.upsert(&t);
        assert_eq!(index.new_since(helpdesk_core::testing::fixtures::t0()), 1);
        let only = |statuses: Vec<TicketStatus>| TicketQuery { statuses, ..TicketQuery::default() };
        assert_eq!(index.next_keys(&only(vec![TicketStatus::New]), None, 10).len(), 1);
        t.status = TicketStatus::Open;
        index.upsert(&t);
        assert!(index.next_keys(&only(vec![TicketStatus::New]), None, 10).is_empty());
        assert_eq!(index.tally(&TicketQuery::default()), vec![(TicketStatus::Open, 1)]);
        assert_eq!(index.new_since(helpdesk_core::testing::fixtures::t0()), 0, "no longer new");
        assert_eq!(index.len(), 1);
        let stranger = helpdesk_core::domain::UserId::random();
        let q = TicketQuery { assignee: Some(AssigneeFilter::User(stranger)), ..TicketQuery::default() };
        assert!(index.next_keys(&q, None, 10).is_empty(), "an unknown assignee is not 'nobody'");
        let q = TicketQuery { assignee: Some(AssigneeFilter::Nobody), ..TicketQuery::default() };
        assert_eq!(index.next_keys(&q, None, 10).len(), 1);
    }

    #[test]
    fn tags_filter_rows_and_follow_their_changes() {
        use helpdesk_core::domain::Tag;
        let tag = |s: &str| Tag::parse_field("tags", s).unwrap();
        let index = ListIndex::default();
        let mut a = ticket(1, 0, TicketStatus::Open);
        a.tags = vec![tag("printer"), tag("vip")];
        let mut b = ticket(2, 1, TicketStatus::Open);
        b.tags = vec![tag("vip")];
        let c = ticket(3, 2, TicketStatus::New);
        for t in [&a, &b, &c] {
            index.upsert(t);
        }
        let any = |v: &[&str]| TicketQuery { tags_any: v.iter().map(|s| tag(s)).collect(), ..TicketQuery::default() };
        let all = |v: &[&str]| TicketQuery { tags_all: v.iter().map(|s| tag(s)).collect(), ..TicketQuery::default() };
        assert_eq!(index.ids(&any(&["vip"])).len(), 2);
        assert_eq!(index.ids(&any(&["printer", "unknown"])).len(), 1);
        assert_eq!(index.ids(&all(&["printer", "vip"])).len(), 1);
        assert!(index.ids(&any(&["unknown"])).is_empty(), "a tag no ticket has matches nothing");
        assert_eq!(index.tally(&any(&["vip"])), vec![(TicketStatus::Open, 2)]);
        a.tags.clear();
        index.upsert(&a);
        assert_eq!(index.ids(&any(&["printer"])).len(), 0, "a removed tag leaves the index");
        assert_eq!(index.next_keys(&any(&["vip"]), None, 10).len(), 1);
    }
}
