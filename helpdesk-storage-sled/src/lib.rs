//! # helpdesk-storage-sled
//!
//! The embedded default store of helpdesk: [`SledStore`] implements every storage port of
//! `helpdesk-core` on [sled](https://docs.rs/sled/0.34), so a server needs no database to run.
//!
//! ## Why sled 0.34
//! 0.34 is sled's stable line: its on-disk format is fixed. The 1.0 alphas change the format
//! between releases and are not meant for data you keep, so the version is pinned to `0.34.7`.
//!
//! ## Atomicity
//! A [`UnitOfWork`](helpdesk_core::ports::UnitOfWork) is one sled transaction over every tree
//! it touches: ticket rows with their number, resolution and alert entries, counters, history
//! events, comments, attachments, outbox messages, audit entries, users, tokens and idempotency
//! records commit together or not at all. Versions and unique keys are checked inside the transaction. No I/O happens in
//! the transaction closure (it may be retried); sled holds a process-wide lock only for the
//! short in-memory commit.
//!
//! ## Durability and its cost
//! A write is on disk before the call returns: after the transaction, the writer waits for a
//! flush of sled's log that started after its commit. Concurrent writers share one flush
//! (group commit): a single background flusher flushes whenever someone waits, and every
//! writer whose commit preceded that flush is released by it. sled 0.34 makes its log stable
//! with `sync_file_range`, which flushes neither the device's write cache nor file metadata,
//! so each group flush ends with an `fdatasync` of sled's data file through our own handle
//! (temporary stores, used by tests, skip it). One `fsync` costs about
//! 0.2–0.25 ms on the reference machine, so a lone writer is bounded by a few thousand
//! writes a second while 8 concurrent writers amortise the flush (see `BENCHMARKS.md`).
//! [`SledStore::flush_stats`] counts flushes and acknowledged writes (tests use it to prove
//! every acknowledged write was flushed). Reads never flush.
//!
//! ## Indexes and counters
//! The ticket lists (every filter, every sort) are served from an index kept in memory
//! (`list_index.rs`): one 72-byte row a ticket, in chunks that grow without copying
//! (`chunked.rs`), built from the ticket rows when the store opens
//! and changed by each commit under the commit lock. A list filters those rows, orders just a
//! page's worth, and reads those tickets, checking every filter again on the row itself. sled
//! keeps only what must survive a restart cheaply: the ticket-number map, the resolution times
//! (retention, reports) and the service-level alert moments. Schema 4 and earlier kept 13 list
//! entries a ticket on disk, half the cost of a creation. The summary report reads maintained
//! counters, updated in the same transaction as the rows, so its cost does not grow with the
//! number of tickets.
//!
//! ## Memory
//! Two caches, both set in [`SledOptions`]: sled's page cache (4 MiB by default; sled holds
//! about twice its configured size resident, and caches the pages of every tree alike, so
//! written audit, event and outbox pages push ticket rows out) and a cache of ticket rows of
//! our own (`row_cache.rs`, 48 MiB by default: 130,000 to 220,000 tickets as schema 9 encodes
//! them), written through by every commit and counted by the rows' bytes. Ticket reads, the
//! hot path of the API and of every list, come from the row cache; sled's cache serves the
//! rest. Against the earlier defaults (a 64 MiB page cache, no row cache) the server's peak
//! under the HTTP benchmark fell from 150–162 to 92–101 MiB at the same request rates, and a
//! read at 100,000 tickets got faster; what a small page cache costs is writes on a large desk
//! (a transition at 100,000 tickets about half as fast): `cache_capacity_bytes` buys them back
//! (BENCHMARKS.md).
//!
//! ## Ticket numbers
//! A counter key incremented atomically; it becomes durable with the flush of the commit that
//! uses it, so a crash can never reuse an acknowledged number and at most the numbers of
//! in-flight creations are skipped (unlike `generate_id`, which jumps after a crash).
//!
//! ## Schema versions
//! The `meta` tree holds `schema_version`. Opening runs the ordered upgrade steps from the
//! stored version to [`SCHEMA_VERSION`]; a newer on-disk version is refused with
//! [`OpenError::NewerSchema`]. A second process opening the same directory gets
//! [`OpenError::Locked`] at once (sled takes an exclusive file lock), not a hang.

#![warn(missing_docs)]

mod account_rows;
mod archive;
mod backup;
mod check;
mod chunked;
mod codec;
mod commit;
mod desk;
mod flush;
mod inbound;
mod keys;
mod list_index;
mod notices;
mod outbox;
mod reads;
mod reports;
mod row_cache;
mod settings;
mod ticket_row;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use backup::restore;
pub use check::ConsistencyReport;
pub use desk::help_desk;
pub use flush::FlushStats;
use helpdesk_core::ports::StoreError;
pub use row_cache::RowCacheStats;

/// The on-disk schema this build writes.
pub const SCHEMA_VERSION: u32 = 9;

/// Options of [`SledStore::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SledOptions {
    /// The directory of the database.
    pub path: PathBuf,
    /// sled's page cache (default 4 MiB; sled's own default is 1 GiB). sled holds about
    /// twice this resident.
    pub cache_capacity_bytes: u64,
    /// Ticket rows kept in memory beside sled's cache, counted by their bytes (default 48 MiB,
    /// 130,000 to 220,000 tickets; 0 turns it off; see `row_cache.rs`).
    pub row_cache_bytes: u64,
    /// Delete the directory when the store is dropped (tests and benchmarks).
    pub temporary: bool,
}

impl SledOptions {
    /// Options for `path` with the default cache.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            cache_capacity_bytes: 4 * 1024 * 1024,
            row_cache_bytes: 48 * 1024 * 1024,
            temporary: false,
        }
    }

    /// Options for a database in a fresh directory under the system's temporary directory,
    /// deleted when the store is dropped.
    pub fn temporary() -> Self {
        let path = std::env::temp_dir().join(format!("helpdesk-sled-{}", uuid::Uuid::new_v4()));
        Self { temporary: true, ..Self::new(path) }
    }
}

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Another process has the database open.
    #[error("the database at {0} is in use by another process (sled holds an exclusive lock)")]
    Locked(PathBuf),
    /// The database was written by a newer helpdesk.
    #[error("the database at {path} has schema version {found}, newer than this build's {supported}; upgrade helpdesk")]
    NewerSchema {
        /// Where.
        path: PathBuf,
        /// On disk.
        found: u32,
        /// This build.
        supported: u32,
    },
    /// The attachment directory of [`help_desk`] could not be created or opened.
    #[error("could not open the attachment directory {path}: {source}")]
    Attachments {
        /// Where.
        path: PathBuf,
        /// Cause.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored row could not be read while the ticket lists' index was built.
    #[error("could not read the rows of the sled database at {path}: {source}")]
    Rows {
        /// Where.
        path: PathBuf,
        /// Cause.
        source: StoreError,
    },
    /// sled reported an error (corruption included): never repaired silently.
    #[error("could not open the sled database at {path}: {source}")]
    Sled {
        /// Where.
        path: PathBuf,
        /// Cause.
        source: sled::Error,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Trees {
    pub meta: sled::Tree,
    pub tickets: sled::Tree,
    pub ticket_numbers: sled::Tree,
    pub ticket_idx: sled::Tree,
    pub resolved_idx: sled::Tree,
    pub counters: sled::Tree,
    pub users: sled::Tree,
    pub user_email: sled::Tree,
    pub user_company: sled::Tree,
    pub user_created: sled::Tree,
    pub user_sessions: sled::Tree,
    pub events: sled::Tree,
    pub event_seq: sled::Tree,
    pub comments: sled::Tree,
    pub attachments: sled::Tree,
    pub ticket_attachments: sled::Tree,
    pub outbox: sled::Tree,
    pub outbox_due: sled::Tree,
    pub outbox_state: sled::Tree,
    pub audit: sled::Tree,
    pub rejections: sled::Tree,
    pub tokens: sled::Tree,
    pub sessions: sled::Tree,
    pub refresh: sled::Tree,
    pub idem: sled::Tree,
    pub api_keys: sled::Tree,
    pub failures: sled::Tree,
    pub windows: sled::Tree,
    pub notices: sled::Tree,
    pub notices_unread: sled::Tree,
    pub notices_time: sled::Tree,
    pub inbound: sled::Tree,
    pub inbound_keys: sled::Tree,
    pub inbound_time: sled::Tree,
}

/// The sled store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SledStore {
    /// First, so that it is dropped first: stops the flusher before the database goes.
    _closer: Arc<flush::CloseOnDrop>,
    pub(crate) t: Arc<Trees>,
    pub(crate) flusher: Arc<flush::GroupCommit>,
    pub(crate) commit_lock: Arc<std::sync::Mutex<()>>,
    /// The write gate of online backups (see `backup.rs`).
    pub(crate) gate: Arc<std::sync::RwLock<()>>,
    /// The ticket lists' index, in memory (see `list_index.rs`).
    pub(crate) list: Arc<list_index::ListIndex>,
    /// Ticket rows, as read (see `row_cache.rs`).
    pub(crate) rows: Arc<row_cache::RowCache>,
    path: PathBuf,
}

pub(crate) fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend { backend: "sled", source: Box::new(e) }
}

impl SledStore {
    /// Opens (or creates) the database. One process at a time: a second one gets
    /// [`OpenError::Locked`]. ([`help_desk`] opens a store and an attachment directory together.)
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use helpdesk_core::ports::TicketStore;
    /// use helpdesk_storage_sled::{SledOptions, SledStore};
    ///
    /// // `SledOptions::new("data/helpdesk.sled")` for a lasting one.
    /// let store = SledStore::open(&SledOptions::temporary())?;
    /// assert_eq!(store.allocate_ticket_number().await?, 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`OpenError`]: locked by another process, a newer schema, or a sled error.
    pub fn open(options: &SledOptions) -> Result<Self, OpenError> {
        let path = options.path.clone();
        let db = sled::Config::new()
            .path(&options.path)
            .cache_capacity(options.cache_capacity_bytes)
            // Durability comes from our own flushes before acknowledging; sled's timer flush
            // stays as a backstop.
            .flush_every_ms(Some(500))
            .temporary(options.temporary)
            .open()
            .map_err(|e| match &e {
                sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
                    OpenError::Locked(path.clone())
                }
                _ => OpenError::Sled { path: path.clone(), source: e },
            })?;
        let sled_err = |e| OpenError::Sled { path: path.clone(), source: e };
        let open = |name: &str| db.open_tree(name).map_err(sled_err);
        let t = Trees {
            meta: open("meta")?,
            tickets: open("tickets")?,
            ticket_numbers: open("ticket_numbers")?,
            ticket_idx: open("ticket_idx")?,
            resolved_idx: open("resolved_idx")?,
            counters: open("counters")?,
            users: open("users")?,
            user_email: open("user_email")?,
            user_company: open("user_company")?,
            user_created: open("user_created")?,
            user_sessions: open("user_sessions")?,
            events: open("events")?,
            event_seq: open("event_seq")?,
            comments: open("comments")?,
            attachments: open("attachments")?,
            ticket_attachments: open("ticket_attachments")?,
            outbox: open("outbox")?,
            outbox_due: open("outbox_due")?,
            outbox_state: open("outbox_state")?,
            audit: open("audit")?,
            rejections: open("rejections")?,
            tokens: open("tokens")?,
            sessions: open("sessions")?,
            refresh: open("refresh")?,
            idem: open("idem")?,
            api_keys: open("api_keys")?,
            failures: open("failures")?,
            windows: open("windows")?,
            notices: open("notices")?,
            notices_unread: open("notices_unread")?,
            notices_time: open("notices_time")?,
            inbound: open("inbound")?,
            inbound_keys: open("inbound_keys")?,
            inbound_time: open("inbound_time")?,
        };
        migrate(&db, &t.meta, &path)?;
        db.flush().map_err(sled_err)?;
        let list = list_index::ListIndex::default();
        for kv in t.tickets.iter() {
            let (_, row) = kv.map_err(sled_err)?;
            let ticket = codec::dec_ticket(&row).map_err(|source| OpenError::Rows { path: path.clone(), source })?;
            list.upsert(&ticket);
        }
        let file = if options.temporary {
            None
        } else {
            Some(
                std::fs::File::open(options.path.join("db"))
                    .map_err(|e| OpenError::Sled { path: path.clone(), source: sled::Error::Io(e) })?,
            )
        };
        let (flusher, closer) = flush::GroupCommit::start(db.clone(), file);
        Ok(Self {
            _closer: Arc::new(closer),
            t: Arc::new(t),
            flusher,
            commit_lock: Arc::default(),
            gate: Arc::default(),
            list: Arc::new(list),
            rows: Arc::new(row_cache::RowCache::new(options.row_cache_bytes)),
            path,
        })
    }

    /// [`SledStore::open`] right after this process closed a store on the same directory:
    /// sled's background threads can hold the file lock a moment after the last handle is
    /// dropped (seen under load), so a [`OpenError::Locked`] is retried for up to `within`.
    /// A lock held by another process still ends in `Locked`, after `within`.
    ///
    /// # Errors
    /// As [`SledStore::open`].
    pub fn reopen(options: &SledOptions, within: std::time::Duration) -> Result<Self, OpenError> {
        let deadline = std::time::Instant::now() + within;
        loop {
            match Self::open(options) {
                Err(OpenError::Locked(_)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes and acknowledged writes so far.
    pub fn flush_stats(&self) -> FlushStats {
        self.flusher.stats()
    }

    /// The ticket row cache's size and hits so far (the server publishes them in `/metrics`).
    pub fn row_cache_stats(&self) -> RowCacheStats {
        self.rows.stats()
    }

    /// Waits until every write committed before this call is on disk.
    pub(crate) async fn durable(&self) -> Result<(), StoreError> {
        self.flusher.wait().await
    }
}

/// Ordered upgrade steps; step `n` upgrades from version `n` to `n + 1`. Each one must be
/// safe to run again after it stopped half-way (the version moves only once it finished).
const UPGRADES: &[fn(&sled::Db) -> sled::Result<()>] = &[
    // 1 → 2: ticket, user and session rows in binary layouts.
    ticket_row::upgrade_to_schema_2,
    // 2 → 3: ticket rows carry their service-level schedule.
    ticket_row::upgrade_to_schema_3,
    // 3 → 4: ticket rows carry their satisfaction rating.
    ticket_row::upgrade_to_schema_4,
    // 4 → 5: the list entries leave `ticket_idx` (the lists' index lives in memory).
    keys::upgrade_to_schema_5,
    // 5 → 6: ticket rows carry their tags.
    ticket_row::upgrade_to_schema_6,
    // 6 → 7: ticket rows carry their followers.
    ticket_row::upgrade_to_schema_7,
    // 7 → 8: ticket rows carry their custom field values.
    ticket_row::upgrade_to_schema_8,
    // 8 → 9: ticket rows with variable-length integers.
    ticket_row::upgrade_to_schema_9,
];

fn migrate(db: &sled::Db, meta: &sled::Tree, path: &Path) -> Result<(), OpenError> {
    let sled_err = |e| OpenError::Sled { path: path.to_owned(), source: e };
    let stored = meta.get("schema_version").map_err(sled_err)?;
    let mut version = match stored {
        Some(v) if v.len() == 4 => u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
        Some(_) => {
            return Err(sled_err(sled::Error::Corruption { at: None, bt: () }));
        }
        None => SCHEMA_VERSION,
    };
    if version > SCHEMA_VERSION {
        return Err(OpenError::NewerSchema { path: path.to_owned(), found: version, supported: SCHEMA_VERSION });
    }
    while version < SCHEMA_VERSION {
        let step = UPGRADES
            .get(version as usize - 1)
            .ok_or_else(|| sled_err(sled::Error::Unsupported(format!("no upgrade from schema {version}"))))?;
        step(db).map_err(sled_err)?;
        version += 1;
        meta.insert("schema_version", &version.to_be_bytes()).map_err(sled_err)?;
    }
    meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes()).map_err(sled_err)?;
    Ok(())
}
