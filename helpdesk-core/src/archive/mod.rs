//! Whole-store export and import: one archive file that carries every record of every store
//! port from one store to another of either kind (sled → PostgreSQL when a team outgrows the
//! embedded default, and back), with the attachment blobs if asked.
//!
//! # The format (version 1)
//!
//! A gzip-compressed `tar` file. Its first entry is `manifest.json` ([`Manifest`]): the format
//! name and version, the ticket-number counter, whether sessions and blobs are included, and
//! for each part its record count, byte size and SHA-256. Then the parts, in the order an
//! import needs them, each newline-delimited JSON, one record per line, in the store's stable
//! list order (so two exports of the same records are byte for byte the same):
//!
//! | part | one line is |
//! |---|---|
//! | `blobs.ndjson` (with blobs) | [`BlobEntry`]: storage key, size, SHA-256, and the tar entry `blobs/<n>` holding the bytes |
//! | `users.ndjson` | a `User`, password hash included |
//! | `rejections.ndjson` | a `RejectionRecord` |
//! | `api_keys.ndjson` | an `ApiKey` (its secret only as a hash) |
//! | `tokens.ndjson` | a `OneTimeToken` (by hash) |
//! | `sessions.ndjson` (only when asked) | a `Session` |
//! | `tickets.ndjson` | a [`TicketRecord`]: the ticket with its history, comments and attachment metadata |
//! | `outbox.ndjson` | an `OutboxRecord` with its delivery state (leases left out) |
//! | `audit.ndjson` | an `AuditEntry` |
//! | `notices.ndjson` | a `Notice` |
//! | `inbound.ndjson` | an `InboundMessage` (a message that came in by mail; its raw bytes are a blob) |
//! | `settings.ndjson` | [`SavedSettings`]: the service-level calendars and policies an admin saved (none: no line) |
//!
//! Records are the model types' own serde forms (`helpdesk_core::model`), the same JSON the
//! stores keep. Left out on purpose: idempotency records and sign-in throttles (short-lived by
//! design), and, unless asked, sessions (a move between stores signs everyone out; with
//! sessions, the current refresh token of each carries over, the older ones of its family do
//! not, so presenting one of those is refused without revoking the session).
//!
//! # Consistency
//! An export reads the store through its ordinary reads, not in one transaction: take it from
//! a stopped server (or from an online backup of the embedded store, `helpdesk backup`).
//! An import checks every hash and count of the whole file before it writes anything, then
//! writes in batches; it is meant for an empty store, and a failure part-way leaves a store to
//! throw away and start again.
//!
//! These functions do blocking file I/O in places (small buffered writes; the tar work runs on
//! tokio's blocking pool): call them from a command, not from a request handler.

mod export;
mod format;
mod import;

use std::path::PathBuf;

pub use export::{ExportOptions, export};
pub use format::{BlobEntry, FORMAT, FORMAT_VERSION, Manifest, PartSummary, SavedSettings, TicketRecord};
pub use import::{ImportOptions, ImportReport, import, verify};

use crate::ports::StoreError;

/// Why an export or import failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Reading or writing a blob in the attachment store.
    #[error("attachment store, {key}: {source}")]
    Blob {
        /// The blob's storage key.
        key: String,
        /// The error.
        source: object_store::Error,
    },
    /// The file is not an archive this version reads, or it is damaged (a hash or count does
    /// not match, a line does not parse).
    #[error("archive: {0}")]
    Format(String),
    /// The target store holds records already.
    #[error("the store is not empty ({0}): import into an empty store, or allow a non-empty one explicitly")]
    NotEmpty(String),
}

impl ArchiveError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
