//! Ticket rows, kept in memory as sled stored them (encoded), under a byte budget that counts
//! each row's length plus a fixed allowance for its slot.
//!
//! Why beside sled's own cache: sled 0.34's page cache holds about twice its configured size
//! resident, and it caches whole pages of every tree, so the pages written by audit entries,
//! events and outbox messages push ticket rows out. At 100,000 tickets the storage benchmark's
//! reads need a 64 MiB sled cache (~128 MiB resident) to find the ticket rows in memory; the
//! rows themselves are ~30 MiB. This cache holds just those rows, so sled's cache can be small.
//!
//! Coherence: commits change sled first and then call [`RowCache::put`] with every ticket
//! row they wrote (under the commit lock, as the lists' index, so in commit order): the cache
//! is written through, as sled's own is, and a ticket just filed is read from memory. A reader
//! that misses takes its shard's epoch *before* reading sled and fills only if no commit
//! touched the shard since ([`RowCache::fill`]): a row read before a commit's write can
//! therefore never replace the commit's row, nor come back after it was evicted. Rows that do
//! not exist are not cached.
//!
//! Eviction is CLOCK (second chance) per shard: a slot read since the hand last passed it is
//! kept once more. The cache is derived data: losing it (a restart) costs only reads.
//!
//! Measured (`cargo bench -p helpdesk-storage-sled --bench sled_store`, BENCHMARKS.md): at
//! 100,000 tickets a get by number ran at 231k/s with a 64 MiB page cache and no row cache,
//! and at 375k/s with a 4 MiB page cache and this one.

use std::collections::VecDeque;
use std::sync::Mutex;

use hashbrown::HashTable;

use crate::list_index::split;

/// Shards (by the id's low bits: ticket ids are random v4 UUIDs, so they spread evenly).
const SHARDS: usize = 16;

/// What a slot costs beyond its row, as counted against the budget: the slot itself (40
/// bytes, with the slab's spare capacity), its place in the map by id (4 bytes at the table's
/// load), its entries in the clock's queue (8 bytes each) and the row allocation's rounding up
/// to the allocator's size class. Measured with heaptrack: 316 bytes a 148-byte row when each
/// slot was a map entry by `u128` holding an `Arc`, queued by id (BENCHMARKS.md).
pub(crate) const SLOT_BYTES: usize = 80;

/// A shard's epoch, taken before a read from sled (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Epoch(u64);

#[derive(Debug)]
struct Slot {
    /// The ticket's id as two words (a `u128` would pad the slot to 16-byte alignment).
    id: [u64; 2],
    row: Box<[u8]>,
    /// Which push onto the queue is this slot's (older queue entries for it are stale).
    generation: u32,
    /// Read since the clock hand last passed.
    used: bool,
}

/// The map's hash of an id: both halves mixed (a v4 UUID's version bits sit in the high half).
fn hash_of([hi, lo]: [u64; 2]) -> u64 {
    (hi ^ lo.rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[derive(Debug, Default)]
struct Shard {
    /// The rows, in a slab: a slot's position stays while it holds the same row.
    slots: Vec<Option<Slot>>,
    /// Positions in `slots` that are empty.
    free: Vec<u32>,
    /// Positions in `slots`, by the id of the slot's ticket.
    index: HashTable<u32>,
    /// The clock: positions with the generation they were queued with.
    queue: VecDeque<(u32, u32)>,
    bytes: usize,
    epoch: u64,
    next_generation: u32,
    /// Reads answered from the shard, and reads that missed (counted under the shard's lock,
    /// so the count costs no shared atomic).
    hits: u64,
    misses: u64,
}

impl Shard {
    fn position(&self, id: u128) -> Option<u32> {
        let id = split(id);
        let slots = &self.slots;
        self.index
            .find(hash_of(id), |&p| slots.get(p as usize).and_then(Option::as_ref).is_some_and(|s| s.id == id))
            .copied()
    }

    fn slot_mut(&mut self, id: u128) -> Option<&mut Slot> {
        let p = self.position(id)?;
        self.slots.get_mut(p as usize).and_then(Option::as_mut)
    }

    fn is_current(&self, (p, generation): (u32, u32)) -> bool {
        self.slots.get(p as usize).and_then(Option::as_ref).is_some_and(|s| s.generation == generation)
    }

    /// Empties the slot at `p` and drops it from the map.
    fn remove_at(&mut self, p: u32) {
        let Some(slot) = self.slots.get_mut(p as usize).and_then(Option::take) else { return };
        if let Ok(entry) = self.index.find_entry(hash_of(slot.id), |&q| q == p) {
            entry.remove();
        }
        self.bytes -= slot.row.len() + SLOT_BYTES;
        self.free.push(p);
    }

    /// Frees slots until `need` more bytes fit in `budget` (false if they cannot).
    fn make_room(&mut self, need: usize, budget: usize) -> bool {
        if need > budget {
            return false;
        }
        while self.bytes + need > budget {
            let Some(entry) = self.queue.pop_front() else { return false };
            if !self.is_current(entry) {
                continue;
            }
            let Some(slot) = self.slots.get_mut(entry.0 as usize).and_then(Option::as_mut) else { continue };
            if slot.used {
                slot.used = false;
                self.queue.push_back(entry);
            } else {
                self.remove_at(entry.0);
            }
        }
        true
    }

    /// Adds `row` as `id`'s (absent) slot if it fits the budget.
    fn keep(&mut self, id: u128, row: &[u8], budget: usize) {
        let need = row.len() + SLOT_BYTES;
        if !self.make_room(need, budget) {
            return;
        }
        let generation = self.next_generation;
        self.next_generation = self.next_generation.wrapping_add(1);
        let slot = Slot { id: split(id), row: row.into(), generation, used: false };
        let p = match self.free.pop() {
            Some(p) => p,
            None => {
                self.slots.push(None);
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let Some(place) = self.slots.get_mut(p as usize) else { return };
        let hash = hash_of(slot.id);
        *place = Some(slot);
        let slots = &self.slots;
        self.index
            .insert_unique(hash, p, |&q| slots.get(q as usize).and_then(Option::as_ref).map_or(0, |s| hash_of(s.id)));
        self.queue.push_back((p, generation));
        self.bytes += need;
        self.compact();
    }

    /// Drops `id`'s slot and moves the epoch on, so that reads begun before cannot fill.
    fn forget(&mut self, id: u128) {
        self.epoch += 1;
        if let Some(p) = self.position(id) {
            self.remove_at(p);
        }
    }

    /// Drops queue entries of slots that are gone or were replaced, once they outnumber the
    /// live ones (so a shard that never fills does not grow its queue with every change). A
    /// generation wraps after 2^32 pushes; a stale entry lives only until the next compaction,
    /// far fewer pushes later, so it never meets its slot's generation again.
    fn compact(&mut self) {
        if self.queue.len() > 2 * self.index.len() + 64 {
            let slots = &self.slots;
            self.queue
                .retain(|&(p, g)| slots.get(p as usize).and_then(Option::as_ref).is_some_and(|s| s.generation == g));
        }
    }
}

/// The cache; see the module docs. A budget of 0 turns it off.
#[derive(Debug)]
pub(crate) struct RowCache {
    shards: Box<[Mutex<Shard>]>,
    shard_budget: usize,
}

impl RowCache {
    /// A cache of at most `budget` bytes (rows plus [`SLOT_BYTES`] each).
    pub(crate) fn new(budget: u64) -> Self {
        let shard_budget = usize::try_from(budget / SHARDS as u64).unwrap_or(usize::MAX);
        Self { shards: (0..SHARDS).map(|_| Mutex::default()).collect(), shard_budget }
    }

    fn shard(&self, id: u128) -> std::sync::MutexGuard<'_, Shard> {
        let i = (id as usize) % SHARDS;
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What `read` makes of ticket `id`'s row if cached (read under the shard's lock, so the
    /// row is not copied), or else the epoch to pass to [`RowCache::fill`] after reading it
    /// from sled.
    pub(crate) fn get<R>(&self, id: u128, read: impl FnOnce(&[u8]) -> R) -> Result<R, Epoch> {
        let mut shard = self.shard(id);
        match shard.slot_mut(id) {
            Some(slot) => {
                slot.used = true;
                let out = read(&slot.row);
                shard.hits += 1;
                Ok(out)
            }
            None => {
                shard.misses += 1;
                Err(Epoch(shard.epoch))
            }
        }
    }

    /// Keeps `row` as ticket `id`'s, read from sled after [`RowCache::get`] gave `epoch`,
    /// unless a commit changed anything in the shard since (or the id is already cached).
    pub(crate) fn fill(&self, id: u128, row: &[u8], epoch: Epoch) {
        if self.shard_budget == 0 {
            return;
        }
        let mut shard = self.shard(id);
        if shard.epoch != epoch.0 || shard.position(id).is_some() {
            return;
        }
        shard.keep(id, row, self.shard_budget);
    }

    /// Like [`RowCache::fill`], but only into room the shard has spare: evicts nothing. A scan
    /// over many tickets (a report) warms a cold cache this way, after a restart, without
    /// pushing out the rows the desk is working on once the cache is full.
    pub(crate) fn fill_spare(&self, id: u128, row: &[u8], epoch: Epoch) {
        let mut shard = self.shard(id);
        if shard.bytes + row.len() + SLOT_BYTES > self.shard_budget {
            return;
        }
        if shard.epoch != epoch.0 || shard.position(id).is_some() {
            return;
        }
        shard.keep(id, row, self.shard_budget);
    }

    /// Ticket `id`'s row is now `row`: called by every commit that wrote it, after sled took
    /// the write and in commit order (under the commit lock), so a new ticket is read from
    /// memory from the start, as sled's cache would have it.
    pub(crate) fn put(&self, id: u128, row: &[u8]) {
        let mut shard = self.shard(id);
        shard.forget(id);
        if self.shard_budget > 0 {
            shard.keep(id, row, self.shard_budget);
        }
    }

    /// Forgets ticket `id`'s row as a commit without it would (the tests' stand-in for a
    /// commit or an eviction at a chosen moment).
    #[cfg(test)]
    fn invalidate(&self, id: u128) {
        let mut shard = self.shard(id);
        shard.forget(id);
        shard.compact();
    }

    /// Bytes held (rows plus slots).
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.stats().bytes as usize
    }

    /// What the cache holds and how reads fared, summed over the shards (each locked in turn,
    /// so the sums are not one instant's, which a gauge does not need).
    pub(crate) fn stats(&self) -> RowCacheStats {
        let mut stats = RowCacheStats { budget_bytes: (self.shard_budget * SHARDS) as u64, ..Default::default() };
        for shard in &self.shards {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            stats.rows += shard.index.len() as u64;
            stats.bytes += shard.bytes as u64;
            stats.hits += shard.hits;
            stats.misses += shard.misses;
        }
        stats
    }
}

/// The ticket row cache's size and hit counts ([`crate::SledStore::row_cache_stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RowCacheStats {
    /// Rows held.
    pub rows: u64,
    /// Bytes counted against the budget: the rows plus a fixed allowance a slot.
    pub bytes: u64,
    /// The budget (`SledOptions::row_cache_bytes`, rounded down to whole shards).
    pub budget_bytes: u64,
    /// Ticket reads answered from the cache since the store opened.
    pub hits: u64,
    /// Ticket reads that went to sled.
    pub misses: u64,
}

/// Sums the figures of several stores (a process with more than one sled store open).
impl std::ops::AddAssign for RowCacheStats {
    fn add_assign(&mut self, other: Self) {
        self.rows += other.rows;
        self.bytes += other.bytes;
        self.budget_bytes += other.budget_bytes;
        self.hits += other.hits;
        self.misses += other.misses;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(c: &RowCache, id: u128) -> Result<Vec<u8>, Epoch> {
        c.get(id, <[u8]>::to_vec)
    }

    fn id(shard: u128, n: u128) -> u128 {
        (n << 8) * SHARDS as u128 + shard
    }

    #[test]
    fn keeps_what_it_was_given_and_counts_it() {
        let c = RowCache::new(1 << 20);
        let Err(e) = read(&c, 7) else { panic!("empty cache hit") };
        c.fill(7, b"row seven", e);
        assert_eq!(read(&c, 7).as_deref().ok(), Some(&b"row seven"[..]));
        assert_eq!(c.bytes(), 9 + SLOT_BYTES);
        c.invalidate(7);
        assert!(read(&c, 7).is_err());
        assert_eq!(c.bytes(), 0);
        c.put(8, b"eight");
        let stats = c.stats();
        assert_eq!(
            (stats.rows, stats.bytes, stats.hits, stats.misses),
            (1, 5 + SLOT_BYTES as u64, 1, 2),
            "one row held; one read hit, two missed"
        );
        assert_eq!(stats.budget_bytes, (1 << 20) / SHARDS as u64 * SHARDS as u64);
    }

    #[test]
    fn a_read_that_raced_a_commit_does_not_put_the_older_row_back() {
        let c = RowCache::new(1 << 20);
        // The reader takes the epoch, then reads the old row from sled; meanwhile a commit
        // writes the new row to sled and invalidates.
        let Err(before) = read(&c, 7) else { panic!("hit") };
        c.invalidate(7);
        c.fill(7, b"old", before);
        assert!(read(&c, 7).is_err(), "the stale row was cached");
        // A reader that started after the commit fills.
        let Err(after) = read(&c, 7) else { panic!("hit") };
        c.fill(7, b"new", after);
        assert_eq!(read(&c, 7).as_deref().ok(), Some(&b"new"[..]));
        // A commit elsewhere in the shard also voids an older epoch (the check is per shard).
        let Err(e) = read(&c, id(7, 1)) else { panic!("hit") };
        c.invalidate(id(7, 2));
        c.fill(id(7, 1), b"x", e);
        assert!(read(&c, id(7, 1)).is_err());
    }

    #[test]
    fn stays_within_its_budget_and_keeps_rows_in_use() {
        let row = [1u8; 100];
        let per = row.len() + SLOT_BYTES;
        // One shard's budget holds four rows.
        let c = RowCache::new((4 * per * SHARDS) as u64);
        let fill = |n| {
            if let Err(e) = read(&c, id(3, n)) {
                c.fill(id(3, n), &row, e);
            }
        };
        for n in 0..4 {
            fill(n);
        }
        assert!(read(&c, id(3, 0)).is_ok(), "row 0 read: kept once more");
        for n in 4..6 {
            fill(n);
        }
        assert_eq!(c.bytes(), 4 * per);
        assert!(read(&c, id(3, 0)).is_ok(), "the row in use was evicted");
        assert!(read(&c, id(3, 1)).is_err() && read(&c, id(3, 2)).is_err(), "the oldest unused rows go first");
        // A row bigger than a shard's budget is not cached; nothing else is lost for it.
        let Err(e) = read(&c, id(3, 9)) else { panic!("hit") };
        c.fill(id(3, 9), &[0u8; 4096], e);
        assert!(read(&c, id(3, 9)).is_err());
        assert_eq!(c.bytes(), 4 * per);
    }

    #[test]
    fn a_scan_fills_spare_room_only() {
        let row = [1u8; 100];
        let per = row.len() + SLOT_BYTES;
        // One shard's budget holds two rows.
        let c = RowCache::new((2 * per * SHARDS) as u64);
        let scan = |n| {
            if let Err(e) = read(&c, id(4, n)) {
                c.fill_spare(id(4, n), &row, e);
            }
        };
        scan(0);
        scan(1);
        assert!(read(&c, id(4, 0)).is_ok() && read(&c, id(4, 1)).is_ok(), "a cold cache warms");
        scan(2);
        assert!(read(&c, id(4, 2)).is_err(), "a full cache took the scanned row");
        assert!(read(&c, id(4, 0)).is_ok() && read(&c, id(4, 1)).is_ok(), "a scanned row evicted one in use");
        // As with `fill`, a commit in the shard since the read voids it.
        c.invalidate(id(4, 1));
        let Err(e) = read(&c, id(4, 3)) else { panic!("hit") };
        c.invalidate(id(4, 0));
        c.fill_spare(id(4, 3), &row, e);
        assert!(read(&c, id(4, 3)).is_err(), "a row read before a commit was kept");
        let off = RowCache::new(0);
        let Err(e) = read(&off, 9) else { panic!("hit") };
        off.fill_spare(9, b"r", e);
        assert!(read(&off, 9).is_err(), "a cache turned off kept a row");
    }

    #[test]
    fn changes_without_evictions_do_not_grow_the_queue() {
        let c = RowCache::new(1 << 30);
        for _ in 0..10_000 {
            let Err(e) = read(&c, 5) else { panic!("hit") };
            c.fill(5, b"r", e);
            c.invalidate(5);
        }
        let shard = c.shard(5);
        assert!(shard.queue.len() <= 2 * shard.index.len() + 65, "queue {}", shard.queue.len());
    }

    #[test]
    fn a_commit_writes_through_and_voids_older_reads() {
        let c = RowCache::new(1 << 20);
        let Err(before) = read(&c, 7) else { panic!("hit") };
        c.put(7, b"v1");
        assert_eq!(read(&c, 7).as_deref().ok(), Some(&b"v1"[..]));
        c.fill(7, b"v0", before);
        c.put(7, b"v2");
        assert_eq!(read(&c, 7).as_deref().ok(), Some(&b"v2"[..]));
        assert_eq!(c.bytes(), 2 + SLOT_BYTES);
        // Evicted after the commit, a read begun before it still cannot bring back v1.
        let Err(e) = read(&c, 8) else { panic!("hit") };
        c.put(8, b"new");
        c.invalidate(8);
        c.fill(8, b"old", e);
        assert!(read(&c, 8).is_err());
    }

    #[test]
    fn slots_reused_in_any_order_answer_each_id_with_its_latest_row() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(16);
        // Room for about 40 of the 200 ids per shard: commits, fills and evictions interleave.
        let c = RowCache::new((40 * (24 + SLOT_BYTES) * SHARDS) as u64);
        let mut latest = std::collections::HashMap::new();
        for step in 0..50_000u32 {
            let id = id(rng.gen_range(0..2), rng.gen_range(0..200));
            if rng.gen_bool(0.5) {
                let row = format!("{id}:{step}").into_bytes();
                c.put(id, &row);
                latest.insert(id, row);
            } else if let (Err(e), Some(row)) = (read(&c, id), latest.get(&id)) {
                c.fill(id, row, e);
            }
            if let Ok(row) = read(&c, id) {
                assert_eq!(Some(&row), latest.get(&id), "id {id} at step {step}");
            }
        }
        let held: usize = latest.keys().filter_map(|&id| read(&c, id).ok()).map(|r| r.len() + SLOT_BYTES).sum();
        assert_eq!(c.bytes(), held, "the count matches the rows held");
        let shard = c.shard(0);
        let live = shard.slots.iter().flatten().count();
        assert_eq!((live, shard.index.len()), (live, live), "one map entry a live slot");
        assert_eq!(shard.slots.len(), live + shard.free.len(), "every empty slot is free to reuse");
    }

    #[test]
    fn a_zero_budget_turns_it_off() {
        let c = RowCache::new(0);
        let Err(e) = read(&c, 1) else { panic!("hit") };
        c.fill(1, b"row", e);
        c.put(2, b"row");
        assert!(read(&c, 1).is_err() && read(&c, 2).is_err());
    }
}
