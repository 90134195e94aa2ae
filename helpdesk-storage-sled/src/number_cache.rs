//! Ticket number → id, remembered in memory: a get by number is one tree lookup instead of
//! two (the number's index entry, then the row).
//!
//! The mapping never changes once written (numbers are never reused and a ticket keeps its
//! id), so the cache is filled as tickets are filed (after their commit) and as numbers are
//! read, and never invalidated: after a restart, the first read of each older number pays the
//! index lookup once. A number that no longer has a ticket (none can, today) would still read
//! as absent, since the row lookup decides. It holds at most [`CAPACITY`] numbers, 16 bytes
//! each, in a dense vector indexed by the number (16 MiB at the cap, 2 MiB at 100,000
//! tickets); numbers above it are read from the tree each time.
//!
//! Measured by `cargo bench -p helpdesk-storage-sled --bench sled_store` (BENCHMARKS.md): at
//! 100,000 tickets a get by id ran at 343k/s and a get by number at 161k/s before this cache:
//! the second lookup, in a tree of its own, cost as much as the row's.

use std::sync::RwLock;

/// Numbers the cache covers (1 to this).
pub(crate) const CAPACITY: u64 = 1 << 20;

/// The cache; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct NumberCache {
    /// Index `seq - 1` holds the id's bytes, or zeros while unknown (a v4 id is never zero).
    ids: RwLock<Vec<[u8; 16]>>,
}

impl NumberCache {
    /// The id of ticket number `seq`, if remembered.
    pub(crate) fn get(&self, seq: u64) -> Option<[u8; 16]> {
        let slot = usize::try_from(seq.checked_sub(1)?).ok()?;
        let ids = self.ids.read().unwrap_or_else(|e| e.into_inner());
        ids.get(slot).copied().filter(|id| *id != [0; 16])
    }

    /// Remembers that number `seq` is ticket `id` (numbers above [`CAPACITY`] are not kept).
    pub(crate) fn insert(&self, seq: u64, id: &[u8]) {
        let (Some(slot), Ok(id)) = (seq.checked_sub(1), <[u8; 16]>::try_from(id)) else { return };
        if seq > CAPACITY || id == [0; 16] {
            return;
        }
        let Ok(slot) = usize::try_from(slot) else { return };
        let mut ids = self.ids.write().unwrap_or_else(|e| e.into_inner());
        if ids.len() <= slot {
            // Grow ahead of the numbers in use, so filling a new range reallocates rarely.
            let want = (slot + 1).next_power_of_two().min(CAPACITY as usize);
            ids.resize(want.max(slot + 1), [0; 16]);
        }
        ids[slot] = id;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_what_it_was_told_within_its_capacity() {
        let c = NumberCache::default();
        assert_eq!(c.get(1), None);
        assert_eq!(c.get(0), None);
        c.insert(3, &[7; 16]);
        assert_eq!((c.get(3), c.get(2), c.get(4)), (Some([7; 16]), None, None));
        c.insert(CAPACITY, &[9; 16]);
        assert_eq!(c.get(CAPACITY), Some([9; 16]));
        c.insert(CAPACITY + 1, &[9; 16]);
        assert_eq!(c.get(CAPACITY + 1), None);
        c.insert(5, &[1; 3]);
        c.insert(0, &[1; 16]);
        assert_eq!((c.get(5), c.get(0)), (None, None));
    }
}
