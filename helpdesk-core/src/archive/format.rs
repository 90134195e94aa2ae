//! The archive's manifest, its parts and the records that are the archive's own (a ticket
//! with what hangs off it, a blob's entry); everything else is a model type as it is.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ArchiveError;
use crate::model::{Attachment, Comment, HistoryEvent, Ticket};

/// The `format` field of every manifest.
pub const FORMAT: &str = "helpdesk-archive";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The manifest's entry name, first in the file.
pub(crate) const MANIFEST: &str = "manifest.json";
/// Where blob bytes live: `blobs/<n>`.
pub(crate) const BLOB_DIR: &str = "blobs/";

/// What an archive holds, with a hash per part; the archive's first entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written by this code.
    pub format_version: u32,
    /// When the export ran.
    pub created_at: DateTime<Utc>,
    /// The software that wrote it (`helpdesk-core <version>`).
    pub producer: String,
    /// The highest ticket number the source store had handed out; the target continues
    /// above it.
    pub ticket_number_high_water: u64,
    /// Whether `sessions.ndjson` is included.
    pub sessions: bool,
    /// Whether the blobs are included (`blobs.ndjson` and `blobs/<n>`).
    pub attachments: bool,
    /// The parts, in file order.
    pub parts: Vec<PartSummary>,
}

impl Manifest {
    /// The summary of the part `name`, if the archive has it.
    pub fn part(&self, name: &str) -> Option<&PartSummary> {
        self.parts.iter().find(|p| p.name == name)
    }
}

/// One part: a file of newline-delimited JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartSummary {
    /// The entry name (`users.ndjson`, …).
    pub name: String,
    /// Records (lines).
    pub records: u64,
    /// Bytes.
    pub bytes: u64,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
}

/// The line of `settings.ndjson`: what admins and staff saved through the settings routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSettings {
    /// The service-level calendars and policies, when saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<crate::sla::SlaSpec>,
    /// Every macro, when any was saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macros: Option<crate::model::MacroBook>,
    /// Every saved view and each person's default, when any was saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub views: Option<crate::model::ViewBook>,
    /// The custom field definitions, when saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<crate::model::FieldBook>,
}

/// A line of `tickets.ndjson`: a ticket and every record that hangs off it, so an import
/// writes each ticket whole in one unit of work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRecord {
    /// The ticket.
    pub ticket: Ticket,
    /// Its history, oldest first.
    pub history: Vec<HistoryEvent>,
    /// Its comments (internal notes included), oldest first.
    pub comments: Vec<Comment>,
    /// Its attachments' metadata (the bytes are blobs).
    pub attachments: Vec<Attachment>,
}

/// A line of `blobs.ndjson`: one object of the attachment store (an attachment or an avatar).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobEntry {
    /// The object's key in the attachment store.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
    /// The tar entry holding the bytes (`blobs/<n>`).
    pub entry: String,
}

/// The parts, in the order they are written and imported: blobs first (an import that cannot
/// write to the attachment store stops before it touches the store), then each kind after the
/// kinds it refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Blobs,
    Users,
    Rejections,
    ApiKeys,
    Tokens,
    Sessions,
    Tickets,
    Outbox,
    Audit,
    Notices,
    Inbound,
    Settings,
}

impl Part {
    pub(crate) const ALL: [Part; 12] = [
        Part::Blobs,
        Part::Users,
        Part::Rejections,
        Part::ApiKeys,
        Part::Tokens,
        Part::Sessions,
        Part::Tickets,
        Part::Outbox,
        Part::Audit,
        Part::Notices,
        Part::Inbound,
        Part::Settings,
    ];

    pub(crate) const fn name(self) -> &'static str {
        match self {
            Part::Blobs => "blobs.ndjson",
            Part::Users => "users.ndjson",
            Part::Rejections => "rejections.ndjson",
            Part::ApiKeys => "api_keys.ndjson",
            Part::Tokens => "tokens.ndjson",
            Part::Sessions => "sessions.ndjson",
            Part::Tickets => "tickets.ndjson",
            Part::Outbox => "outbox.ndjson",
            Part::Audit => "audit.ndjson",
            Part::Notices => "notices.ndjson",
            Part::Inbound => "inbound.ndjson",
            Part::Settings => "settings.ndjson",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Lowercase hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes one spooled part, hashing and counting as it goes.
pub(crate) struct PartWriter {
    path: PathBuf,
    out: BufWriter<File>,
    hasher: Sha256,
    records: u64,
    bytes: u64,
}

impl PartWriter {
    pub(crate) fn create(path: &Path) -> Result<Self, ArchiveError> {
        let out = BufWriter::new(File::create(path).map_err(ArchiveError::io(path))?);
        Ok(Self { path: path.to_owned(), out, hasher: Sha256::new(), records: 0, bytes: 0 })
    }

    /// Appends one record as a line.
    pub(crate) fn record<T: Serialize>(&mut self, record: &T) -> Result<(), ArchiveError> {
        let mut line = serde_json::to_vec(record).map_err(|e| ArchiveError::Format(format!("encoding: {e}")))?;
        line.push(b'\n');
        self.raw(&line)?;
        self.records += 1;
        Ok(())
    }

    /// Appends bytes as they are (a blob).
    pub(crate) fn raw(&mut self, bytes: &[u8]) -> Result<(), ArchiveError> {
        self.hasher.update(bytes);
        self.bytes += bytes.len() as u64;
        self.out.write_all(bytes).map_err(ArchiveError::io(&self.path))
    }

    pub(crate) fn finish(mut self, name: &str) -> Result<PartSummary, ArchiveError> {
        self.out.flush().map_err(ArchiveError::io(&self.path))?;
        Ok(PartSummary {
            name: name.to_owned(),
            records: self.records,
            bytes: self.bytes,
            sha256: hex(&self.hasher.finalize()),
        })
    }
}
