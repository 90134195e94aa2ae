//! What sled 0.34 itself can do with the writes of one ticket creation, with none of the
//! adapter: the same number of keys (one ticket row of ~420 bytes, its number, `IDX` index
//! entries, five counters read and rewritten, an event, its sequence, an outbox message with
//! its two index entries), 8 writer threads, one transaction per ticket, **no fsync at all**.
//! The adapter's durable creation rate cannot exceed this figure, so it is the ceiling the
//! storage benchmark's "create, 8 writers" is measured against.
//!
//! Rows: the adapter's layout (13 index entries, the transaction over all 25 trees), the same
//! over only the 9 trees a creation touches, fewer index entries, and a single-tree atomic
//! batch instead of a transaction.
//!
//! `cargo bench -p helpdesk-storage-sled --bench sled_ceiling`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::Instant;

use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

const TICKETS: u64 = 8_000;
const WRITERS: u64 = 8;

#[derive(Clone, Copy)]
enum Shape {
    /// One transaction over the first `trees` of 25 trees.
    Transaction { trees: usize },
    /// One atomic batch on a single tree, keys prefixed by their would-be tree.
    Batch,
}

fn run(shape: Shape, index_entries: u8) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).cache_capacity(64 << 20).open().unwrap();
    let all: Vec<sled::Tree> = (0..25).map(|i| db.open_tree(format!("t{i}")).unwrap()).collect();
    // One writer at a time, as in the adapter (its commit lock).
    let lock = Arc::new(Mutex::new(()));
    let start = Instant::now();
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (all, lock) = (all.clone(), lock.clone());
            std::thread::spawn(move || {
                for i in 0..TICKETS / WRITERS {
                    let id = ((w << 40) | i).to_be_bytes();
                    let _one_at_a_time = lock.lock().unwrap();
                    match shape {
                        Shape::Transaction { trees } => {
                            all[..trees]
                                .transaction(|tx| {
                                    tx[0].insert(&id, vec![7u8; 420])?;
                                    tx[1].insert(&id, &id)?;
                                    for k in 0..index_entries {
                                        let mut key = vec![k; 20];
                                        key.extend_from_slice(&id);
                                        tx[2].insert(key, &[])?;
                                    }
                                    for k in 0..5u8 {
                                        let n = tx[3].get([k])?.map_or(0, |v| v[0]);
                                        tx[3].insert(&[k], vec![n.wrapping_add(1); 8])?;
                                    }
                                    tx[4].insert(&id, vec![3u8; 200])?;
                                    tx[5].insert(&id, &id)?;
                                    tx[6].insert(&id, vec![3u8; 300])?;
                                    tx[7].insert(&id, &[])?;
                                    tx[8].insert(&id, &[])?;
                                    Ok::<_, ConflictableTransactionError<()>>(())
                                })
                                .unwrap();
                        }
                        Shape::Batch => {
                            let t = &all[0];
                            let at = |tree: u8, k: &[u8]| [&[tree][..], k].concat();
                            let mut b = sled::Batch::default();
                            b.insert(at(0, &id), vec![7u8; 420]);
                            b.insert(at(1, &id), &id);
                            for k in 0..index_entries {
                                let mut key = vec![2, k];
                                key.extend_from_slice(&[k; 19]);
                                key.extend_from_slice(&id);
                                b.insert(key, &[]);
                            }
                            for k in 0..5u8 {
                                let n = t.get([3, k]).unwrap().map_or(0, |v| v[0]);
                                b.insert(&[3, k], vec![n.wrapping_add(1); 8]);
                            }
                            b.insert(at(4, &id), vec![3u8; 200]);
                            b.insert(at(5, &id), &id);
                            b.insert(at(6, &id), vec![3u8; 300]);
                            b.insert(at(7, &id), &[]);
                            b.insert(at(8, &id), &[]);
                            t.apply_batch(b).unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    TICKETS as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    println!("sled 0.34, {WRITERS} writers, {TICKETS} creations each row, no fsync\n");
    println!("| shape | index entries | keys written | creations/s |");
    println!("|---|---|---|---|");
    let rows = [
        ("transaction over 25 trees (the adapter's)", Shape::Transaction { trees: 25 }, 13),
        ("transaction over the 9 trees touched", Shape::Transaction { trees: 9 }, 13),
        ("transaction over 25 trees", Shape::Transaction { trees: 25 }, 6),
        ("transaction over the 9 trees touched", Shape::Transaction { trees: 9 }, 6),
        ("transaction over the 9 trees touched", Shape::Transaction { trees: 9 }, 1),
        ("one atomic batch on one tree", Shape::Batch, 13),
        ("one atomic batch on one tree", Shape::Batch, 6),
    ];
    for (name, shape, idx) in rows {
        let rate = run(shape, idx);
        println!("| {name} | {idx} | {} | {rate:.0} |", 2 + u32::from(idx) + 5 + 5);
    }
}
