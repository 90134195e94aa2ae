//! Online backup and restore of the whole database.
//!
//! sled cannot be copied file by file while it runs (its log and pages are written in the
//! background), and one process owns a database at a time. So the running store copies itself:
//! [`SledStore::backup`] takes the *write gate* exclusively, which every write path holds
//! shared for the moment of its write ([`SledStore::writing`]), so no write is half-way while
//! the copy is taken; copies every tree, key by key, into a new database in the target
//! directory; flushes it; and lets writers go on. Reads never wait. The copy is therefore one
//! cut: every write acknowledged before it began, none that started after.
//!
//! Writes wait only while the records are *read*: under the gate they are spooled, as they
//! are, into a temporary file beside the new database (a sequential write); the database is
//! built from the spool after the gate is released, since inserting into sled costs several
//! times more than reading. The copy also leaves out the ticket indexes ([`DERIVED`]: alert moments and
//! resolution times), which are a function of the ticket rows;
//! [`restore`] rebuilds them with the same code that writes them on commit. A backup directory
//! is therefore restored with [`restore`], not opened as it is. BENCHMARKS.md has the pause at
//! 10,000 and 100,000 tickets.
//!
//! [`restore`] copies a backup into a new database directory, rebuilds the indexes, and checks
//! the result with [`SledStore::check_consistency`]; the server is then started on it.

use std::path::Path;
use std::sync::{PoisonError, RwLockReadGuard};

use helpdesk_core::ports::{BackupSummary, StoreError, StoreResult};

use crate::SledStore;
use crate::codec::sled_err;

/// Batch size of the copy.
const BATCH: usize = 4_096;

/// Trees a backup leaves out, rebuilt from the ticket rows at restore.
const DERIVED: [&str; 2] = ["ticket_idx", "resolved_idx"];

/// The spool file, beside the new database while a backup builds it.
const SPOOL: &str = "records.spool";

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
        let spool_path = to.join(SPOOL);
        let cut = self.gate.write().unwrap_or_else(PoisonError::into_inner);
        let started = std::time::Instant::now();
        let spooled = spool(&self.flusher.db, &spool_path, &DERIVED);
        // The cut is what was read; building the copy from it need not hold writers back.
        drop(cut);
        let waited = started.elapsed();
        let mut summary = spooled.and_then(|()| unspool(&spool_path, &target));
        let _ = std::fs::remove_file(&spool_path);
        if let Ok(s) = &mut summary {
            s.writes_waited_ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX);
        }
        target.flush().map_err(sled_err)?;
        summary
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
        let summary = copy(&source, &target, &[])?;
        rebuild_ticket_indexes(&target)?;
        target.flush().map_err(sled_err)?;
        summary
    };
    let store =
        SledStore::reopen(&crate::SledOptions::new(to), std::time::Duration::from_secs(10)).map_err(crate::backend)?;
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

/// Writes the [`DERIVED`] trees of `db` from its ticket rows (replacing what is there).
fn rebuild_ticket_indexes(db: &sled::Db) -> StoreResult<()> {
    let (tickets, idx, resolved) = (
        db.open_tree("tickets").map_err(sled_err)?,
        db.open_tree(DERIVED[0]).map_err(sled_err)?,
        db.open_tree(DERIVED[1]).map_err(sled_err)?,
    );
    idx.clear().map_err(sled_err)?;
    resolved.clear().map_err(sled_err)?;
    let (mut idx_batch, mut resolved_batch, mut pending) = (sled::Batch::default(), sled::Batch::default(), 0);
    for kv in tickets.iter() {
        let (_, row) = kv.map_err(sled_err)?;
        let t = crate::codec::dec_ticket(&row)?;
        for k in crate::keys::index_keys(&t) {
            idx_batch.insert(k, &[]);
        }
        if let Some(k) = crate::commit::resolved_key(&t) {
            resolved_batch.insert(k, &[]);
        }
        pending += 1;
        if pending == BATCH / 16 {
            idx.apply_batch(std::mem::take(&mut idx_batch)).map_err(sled_err)?;
            resolved.apply_batch(std::mem::take(&mut resolved_batch)).map_err(sled_err)?;
            pending = 0;
        }
    }
    idx.apply_batch(idx_batch).map_err(sled_err)?;
    resolved.apply_batch(resolved_batch).map_err(sled_err)?;
    Ok(())
}

/// Writes every record of `from` but the trees named in `skip` to the file `path`: for each
/// record, the lengths (u32, big-endian) and bytes of its tree's name, key and value.
fn spool(from: &sled::Db, path: &Path, skip: &[&str]) -> StoreResult<()> {
    use std::io::Write;
    let io = |e: std::io::Error| crate::backend(e);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).map_err(io)?);
    for name in from.tree_names() {
        if skip.iter().any(|s| s.as_bytes() == name.as_ref()) {
            continue;
        }
        for kv in from.open_tree(&name).map_err(sled_err)?.iter() {
            let (k, v) = kv.map_err(sled_err)?;
            for part in [name.as_ref(), k.as_ref(), v.as_ref()] {
                let len = u32::try_from(part.len()).map_err(|_| invalid("a record over 4 GiB".into()))?;
                out.write_all(&len.to_be_bytes()).map_err(io)?;
                out.write_all(part).map_err(io)?;
            }
        }
    }
    out.flush().map_err(io)
}

/// Inserts the records of the spool file `path` into `to`, in batches.
fn unspool(path: &Path, to: &sled::Db) -> StoreResult<BackupSummary> {
    use std::io::Read;
    let io = |e: std::io::Error| crate::backend(e);
    let mut input = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path).map_err(io)?);
    let mut part = |first: bool| -> StoreResult<Option<Vec<u8>>> {
        let mut len = [0u8; 4];
        match input.read_exact(&mut len) {
            Err(e) if first && e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            other => other.map_err(io)?,
        }
        let mut bytes = vec![0u8; u32::from_be_bytes(len) as usize];
        input.read_exact(&mut bytes).map_err(io)?;
        Ok(Some(bytes))
    };
    let mut summary = BackupSummary::default();
    let (mut tree, mut batch, mut pending): (Option<(Vec<u8>, sled::Tree)>, sled::Batch, usize) =
        (None, sled::Batch::default(), 0);
    while let Some(name) = part(true)? {
        let (key, value) = (part(false)?.unwrap_or_default(), part(false)?.unwrap_or_default());
        if tree.as_ref().is_none_or(|(n, _)| *n != name) {
            if let Some((_, t)) = &tree {
                t.apply_batch(std::mem::take(&mut batch)).map_err(sled_err)?;
                pending = 0;
            }
            tree = Some((name.clone(), to.open_tree(&name).map_err(sled_err)?));
        }
        if name == b"tickets" {
            summary.tickets += 1;
        }
        summary.records += 1;
        batch.insert(key, value);
        pending += 1;
        if pending == BATCH
            && let Some((_, t)) = &tree
        {
            t.apply_batch(std::mem::take(&mut batch)).map_err(sled_err)?;
            pending = 0;
        }
    }
    if let Some((_, t)) = &tree {
        t.apply_batch(batch).map_err(sled_err)?;
    }
    Ok(summary)
}

/// Copies every tree of `from` but those named in `skip` into `to`, in batches (atomic per
/// tree and batch; the copy as a whole is made consistent by the caller).
fn copy(from: &sled::Db, to: &sled::Db, skip: &[&str]) -> StoreResult<BackupSummary> {
    let mut summary = BackupSummary::default();
    for name in from.tree_names() {
        if skip.iter().any(|s| s.as_bytes() == name.as_ref()) {
            continue;
        }
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
