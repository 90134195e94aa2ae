//! Storage for the lists' index (`list_index.rs`) that grows without copying: its rows in
//! fixed-size chunks, and where each ticket number's row sits.
//!
//! Why not a `Vec`: a vector doubles, so it holds up to twice the rows it has, and while it
//! grows it holds the old and the new buffer at once, three times the rows at that moment.
//! The index grows with every ticket filed, so those moments happen under write load, when the
//! server's memory is at its highest (the peak the HTTP benchmark measures). Chunks of
//! [`CHUNK`] rows are allocated one at a time and never moved: what the index holds beyond its
//! rows is at most one chunk, and growing never copies.
//!
//! [`Positions`] maps a ticket number to its row, 4 bytes a ticket in chunks of its own
//! (allocated only for the ranges of numbers in use): it finds the row a commit replaces and
//! the id behind a number for reads by number, where a map by id cost 32 bytes an entry at up
//! to twice the entries, plus a separate number → id vector of 16 bytes a ticket.

/// Entries a chunk holds.
const CHUNK: usize = 4096;

/// A growable sequence of `T` in chunks of [`CHUNK`] (see the module docs).
#[derive(Debug)]
pub(crate) struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Self { chunks: Vec::new(), len: 0 }
    }
}

impl<T> Chunked<T> {
    /// How many entries it holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// True when it holds nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `v`, returning its position.
    pub(crate) fn push(&mut self, v: T) -> usize {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => last.push(v),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(v);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
        self.len - 1
    }

    /// The entry at `i`.
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    /// The entry at `i`, to change.
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks.get_mut(i / CHUNK)?.get_mut(i % CHUNK)
    }

    /// Every entry in position order (reversible).
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.chunks.iter().flatten()
    }
}

/// No position (a number with no row).
const VACANT: u32 = u32::MAX;

/// Ticket number → position of its row (see the module docs). Numbers are dense from 1, so
/// the positions of numbers up to `u32::MAX` sit in chunks indexed by the number, allocated
/// as the numbers are used; any above (an imported desk could bring some) go in a map.
#[derive(Debug, Default)]
pub(crate) struct Positions {
    chunks: Vec<Option<Box<[u32]>>>,
    beyond: std::collections::HashMap<u64, u32>,
}

impl Positions {
    /// The position of number `seq`'s row, if it has one.
    pub(crate) fn get(&self, seq: u64) -> Option<usize> {
        let at = match u32::try_from(seq) {
            Ok(n) => {
                let n = n as usize;
                *self.chunks.get(n / CHUNK)?.as_ref()?.get(n % CHUNK)?
            }
            Err(_) => *self.beyond.get(&seq)?,
        };
        (at != VACANT).then_some(at as usize)
    }

    /// Records that number `seq`'s row is at `at` (positions from `u32::MAX` on are not kept:
    /// the index never holds four billion tickets).
    pub(crate) fn set(&mut self, seq: u64, at: usize) {
        let Ok(at) = u32::try_from(at) else { return };
        if at == VACANT {
            return;
        }
        let Ok(n) = u32::try_from(seq) else {
            self.beyond.insert(seq, at);
            return;
        };
        let n = n as usize;
        if self.chunks.len() <= n / CHUNK {
            self.chunks.resize_with(n / CHUNK + 1, || None);
        }
        if let Some(slot) = self.chunks.get_mut(n / CHUNK) {
            let chunk = slot.get_or_insert_with(|| vec![VACANT; CHUNK].into_boxed_slice());
            if let Some(p) = chunk.get_mut(n % CHUNK) {
                *p = at;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_hold_every_entry_in_order_across_their_bounds() {
        let mut c = Chunked::default();
        let n = CHUNK * 2 + 7;
        for i in 0..n {
            assert_eq!(c.push(i), i);
        }
        assert_eq!(c.len(), n);
        assert_eq!((c.get(0), c.get(CHUNK), c.get(n - 1), c.get(n)), (Some(&0), Some(&CHUNK), Some(&(n - 1)), None));
        if let Some(v) = c.get_mut(CHUNK - 1) {
            *v = 0;
        }
        assert_eq!(c.get(CHUNK - 1), Some(&0));
        assert!(c.iter().copied().eq((0..n).map(|i| if i == CHUNK - 1 { 0 } else { i })));
        assert_eq!(c.iter().next_back(), Some(&(n - 1)));
        assert!(c.chunks.iter().all(|chunk| chunk.capacity() == CHUNK), "a chunk never reallocates");
    }

    #[test]
    fn positions_answer_for_dense_sparse_and_huge_numbers() {
        let mut p = Positions::default();
        assert_eq!((p.get(0), p.get(1), p.get(u64::MAX)), (None, None, None));
        p.set(1, 0);
        p.set(2, 5);
        p.set(1_000_000, 6);
        p.set(u64::from(u32::MAX) + 9, 7);
        p.set(3, VACANT as usize);
        p.set(4, usize::MAX);
        assert_eq!((p.get(1), p.get(2), p.get(3), p.get(4)), (Some(0), Some(5), None, None));
        assert_eq!((p.get(1_000_000), p.get(999_999), p.get(u64::from(u32::MAX) + 9)), (Some(6), None, Some(7)));
        assert_eq!(p.chunks.iter().flatten().count(), 2, "only the ranges in use are allocated");
        p.set(2, 9);
        assert_eq!(p.get(2), Some(9));
    }
}
