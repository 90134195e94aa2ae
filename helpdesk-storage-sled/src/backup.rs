//! Online backup and restore of the whole database.
//!
//! sled cannot be copied file by file while it runs (its log and pages are written in the
//! background), and one process owns a database at a time. So the running store copies itself:
//! [`SledStore::backup`] takes the *write gate* exclusively, which every write path holds
//! shared for the moment of its write ([`SledStore::writing`]), so no write is half-way while
//! the copy is taken; copies every tree, key by key, into a new database in the target
//! directory; flushes it; and lets writers go on. Reads never wait. The copy is therefore one
//! cut: every write acknowledged before it began, none that started after. Writes wait for as
//! long as the copy takes (about a second per 100,000 records on the benchmark machine; see
//! BENCHMARKS.md).
//!
//! [`restore`] copies a backup into a new database directory the same way and checks it with
//! [`SledStore::check_consistency`]; the server is then started on it.

use std::path::Path;
use std::sync::{PoisonError, RwLockReadGuard};

use helpdesk_core::ports::{BackupSummary, StoreError, StoreResult};

use crate::SledStore;
use crate::codec::sled_err;

/// Batch size of the copy.
const BATCH: usize = 4_096;

impl SledStore {
    /// Held (shared) by every write of the store for the moment it writes; a backup holds it
    /// exclusively. Never held across an `.await`, and never taken twice by one thread (a
    /// waiting backup would deadlock a second shared hold).
    pub(crate) fn writing(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Copies the whole database, as one cut, into a new database at `to` (a directory that
    /// does not exist or is empty). Blocking: call it on a blocking thread.
    ///
    /// # Errors
    /// `to` exists and is not empty, or a storage failure (the partial copy is left for the
    /// caller to inspect or delete).
    pub fn backup(&self, to: &Path) -> StoreResult<BackupSummary> {
        let target = open_empty(to)?;
        let _cut = self.gate.write().unwrap_or_else(PoisonError::into_inner);
        let summary = copy(&self.db, &target)?;
        target.flush().map_err(sled_err)?;
        Ok(summary)
    }
}

/// Copies the backup at `from` into a new database at `to` (a directory that does not exist or
/// is empty), then opens it as a store (upgrading an older schema) and checks its consistency.
///
/// # Errors
/// `to` is not empty, the backup cannot be read, or the restored database is inconsistent
/// (the problems are in the message).
pub fn restore(from: &Path, to: &Path) -> StoreResult<BackupSummary> {
    if !from.join("db").exists() && !from.join("conf").exists() {
        return Err(invalid(format!("{} is not a sled backup (no db file)", from.display())));
    }
    let summary = {
        let source = sled::Config::new().path(from).open().map_err(sled_err)?;
        let target = open_empty(to)?;
        let summary = copy(&source, &target)?;
        target.flush().map_err(sled_err)?;
        summary
    };
    let store = SledStore::open(&crate::SledOptions::new(to)).map_err(crate::backend)?;
    let report = store.check_consistency()?;
    if !report.problems.is_empty() {
        return Err(invalid(format!("the restored database is inconsistent: {}", report.problems.join("; "))));
    }
    Ok(summary)
}

fn invalid(message: String) -> StoreError {
    crate::backend(std::io::Error::new(std::io::ErrorKind::InvalidInput, message))
}

/// Opens a new database in `dir`, refusing a directory with anything in it.
fn open_empty(dir: &Path) -> StoreResult<sled::Db> {
    if let Ok(mut entries) = std::fs::read_dir(dir)
        && entries.next().is_some()
    {
        return Err(invalid(format!("{} is not empty: a backup goes into a new directory", dir.display())));
    }
    sled::Config::new().path(dir).open().map_err(sled_err)
}

/// Copies every tree of `from` into `to`, in batches (atomic per tree and batch; the copy as
/// a whole is made consistent by the caller).
fn copy(from: &sled::Db, to: &sled::Db) -> StoreResult<BackupSummary> {
    let mut summary = BackupSummary::default();
    for name in from.tree_names() {
        let source = from.open_tree(&name).map_err(sled_err)?;
        let target = to.open_tree(&name).map_err(sled_err)?;
        let mut batch = sled::Batch::default();
        let mut pending = 0;
        for kv in source.iter() {
            let (k, v) = kv.map_err(sled_err)?;
            batch.insert(k, v);
            pending += 1;
            summary.records += 1;
            if pending == BATCH {
                target.apply_batch(std::mem::take(&mut batch)).map_err(sled_err)?;
                pending = 0;
            }
        }
        target.apply_batch(batch).map_err(sled_err)?;
        if name.as_ref() == b"tickets" {
            summary.tickets = source.len() as u64;
        }
    }
    Ok(summary)
}
