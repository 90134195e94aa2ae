//! Attachments: the upload use case over a byte stream (limits enforced while reading, type
//! decided from the content, server-generated key, `PutMode::Create`, blob before metadata),
//! download grants after the access check, and the orphan sweeper.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use object_store::path::Path;
use object_store::{ObjectStoreExt as _, PutMode, PutOptions, PutPayload};
use sha2::Digest;

use super::{HelpDesk, audit_entry};
use crate::domain::{AttachmentId, CommentId, EventId, FileName, StorageKey, TicketNumber};
use crate::model::{Attachment, AuditKind, EventKind, FieldChange, HistoryEvent};
use crate::policy::{Permission, Principal, Resource};
use crate::ports::{UnitOfWork, Versioned};
use crate::{AuthFailure, Error, Result};

/// What the client says about an upload (only for display; never trusted for type or path).
#[derive(Debug, Clone, Default)]
pub struct Upload {
    /// The client's file name (sanitised for display).
    pub file_name: String,
    /// Attach to this comment of the ticket (its visibility applies).
    pub comment: Option<CommentId>,
}

/// Permission to serve one attachment's bytes, granted by [`HelpDesk::download`] after the
/// access check. It cannot be built outside this crate.
#[derive(Debug, Clone)]
pub struct DownloadGrant {
    attachment: Attachment,
    location: Path,
}

impl DownloadGrant {
    /// The attachment's metadata (name, type, size, hash for the ETag).
    pub fn attachment(&self) -> &Attachment {
        &self.attachment
    }
    /// Where the bytes are in the attachment store.
    pub fn location(&self) -> &Path {
        &self.location
    }
    /// True when browsers may show it inline (images and PDF).
    pub fn inline(&self) -> bool {
        self.attachment.content_type.starts_with("image/") || self.attachment.content_type == "application/pdf"
    }
}

/// Decides the media type from the content: magic bytes first, then text, refusing markup.
pub fn sniff_content_type(head: &[u8], all_text: Option<&str>, file_name: &FileName) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_owned();
    }
    match all_text {
        Some(text) => {
            // Byte-order marks and white space in any order before the first tag (found by
            // tests/fuzz.rs: "\t\u{feff}<html>" passed as plain text).
            let start: String = text
                .trim_start_matches(|c: char| c == '\u{feff}' || c.is_whitespace())
                .chars()
                .take(512)
                .collect::<String>()
                .to_ascii_lowercase();
            if start.starts_with("<svg") || (start.starts_with("<?xml") && start.contains("<svg")) {
                "image/svg+xml".into()
            } else if start.starts_with("<!doctype html")
                || start.starts_with("<html")
                || start.contains("<script")
                || start.starts_with("<head")
                || start.starts_with("<body")
            {
                "text/html".into()
            } else if start.starts_with("<?xml") {
                "application/xml".into()
            } else if file_name.extension().as_deref() == Some("csv") {
                "text/csv".into()
            } else {
                "text/plain".into()
            }
        }
        None => "application/octet-stream".into(),
    }
}

pub(crate) fn blob_error(e: object_store::Error) -> Error {
    match e {
        object_store::Error::NotFound { .. } => Error::NotFound { what: "attachment" },
        object_store::Error::AlreadyExists { .. } => Error::Conflict("attachment key already exists"),
        other => Error::Unavailable(format!("attachment store: {other}")),
    }
}

impl HelpDesk {
    /// Uploads an attachment to a ticket (or one of its comments). Limits are enforced while
    /// reading: the first chunk past a limit ends the upload with nothing stored. The blob is
    /// written with `PutMode::Create` under a server-generated key before the metadata commit;
    /// if the commit fails the blob is deleted (and the orphan sweeper catches a crash).
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`, `TooLarge`, `UnsupportedMedia`, `Unavailable` (attachment
    /// store down), `Validation` for an unknown comment.
    pub async fn upload_attachment<S, E>(
        &self,
        principal: &Principal,
        number: &TicketNumber,
        upload: Upload,
        mut body: S,
    ) -> Result<Attachment>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Send + Unpin,
        E: std::fmt::Display,
    {
        let t = self.visible_ticket(principal, number).await?;
        let internal = match upload.comment {
            Some(cid) => {
                let comments = self.inner.store.comments(t.id).await?;
                let c = comments
                    .iter()
                    .find(|c| c.id == cid)
                    .ok_or_else(|| Error::field("comment", "unknown", "no such comment on this ticket"))?;
                c.internal
            }
            None => false,
        };
        self.require(principal, Permission::UploadAttachment, &Resource::on_ticket(&t, internal))?;
        if t.merged_into.is_some() {
            return Err(Error::Conflict("this ticket was merged into another: add files there"));
        }
        let actor = principal.actor().ok_or(Error::Unauthenticated(AuthFailure::Missing))?;
        let limits = &self.inner.options.attachments;
        let existing = self.inner.store.attachments(t.id).await?;
        if existing.len() >= limits.max_files_per_ticket {
            return Err(Error::TooLarge("too many files on this ticket"));
        }
        let used: u64 = existing.iter().map(|a| a.size).sum();
        let mut chunks = Vec::new();
        let mut size = 0u64;
        let mut hasher = sha2::Sha256::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| Error::field("file", "unreadable", &format!("the upload failed: {e}")))?;
            size += chunk.len() as u64;
            if size > limits.max_file_bytes {
                return Err(Error::TooLarge("file exceeds the size limit"));
            }
            if used + size > limits.max_bytes_per_ticket {
                return Err(Error::TooLarge("ticket exceeds its attachment limit"));
            }
            hasher.update(&chunk);
            chunks.push(chunk);
        }
        if size == 0 {
            return Err(Error::field("file", "empty", "the file is empty"));
        }
        let file_name = FileName::sanitize(&upload.file_name);
        let head: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).take(8192).collect();
        let whole: Vec<u8> = if infer::get(&head).is_none() {
            chunks.iter().flat_map(|c| c.iter().copied()).collect()
        } else {
            Vec::new()
        };
        let text = if whole.is_empty() { None } else { std::str::from_utf8(&whole).ok().filter(|s| !s.contains('\0')) };
        let content_type = sniff_content_type(&head, text, &file_name);
        if !limits.allowed_types.iter().any(|a| a == &content_type) {
            return Err(Error::UnsupportedMedia);
        }
        let sha256: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let id = AttachmentId::random();
        let key = StorageKey::for_attachment(t.id, id);
        let opts = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
        self.inner.blobs.put_opts(&key.to_path(), PutPayload::from_iter(chunks), opts).await.map_err(blob_error)?;
        let now = self.now();
        let attachment = Attachment {
            id,
            ticket: t.id,
            comment: upload.comment,
            internal,
            file_name,
            content_type,
            size,
            sha256,
            key: key.clone(),
            uploaded_by: actor.to_ref(),
            created_at: now,
        };
        let mut next = t.clone();
        // Internal attachments, like internal notes, leave the version and `updated_at` alone
        // (see `add_comment`).
        if !internal {
            next.updated_at = now;
            next.version = t.version + 1;
        }
        let mut uow = UnitOfWork::new();
        uow.events.push(HistoryEvent {
            id: EventId::random(),
            ticket: t.id,
            at: now,
            actor: actor.to_ref(),
            kind: EventKind::AttachmentAdded { attachment: id },
            changes: vec![FieldChange::new("attachment", None, Some(attachment.file_name.to_string()))],
            note: None,
            internal,
            version: next.version,
            by_macro: None,
        });
        uow.attachments.push(attachment.clone());
        uow.tickets.push(Versioned::update(next, t.version));
        if let Err(e) = self.commit(uow).await {
            if let Err(del) = self.inner.blobs.delete(&key.to_path()).await {
                tracing::warn!(error = %del, key = key.as_str(), "could not delete the blob of a failed upload; the sweeper will");
            }
            return Err(match e {
                crate::ports::StoreError::VersionMismatch { expected, found } => {
                    Error::VersionConflict { expected, found }
                }
                other => other.into(),
            });
        }
        Ok(attachment)
    }

    /// A ticket's attachments the principal may see.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn attachments(&self, principal: &Principal, number: &TicketNumber) -> Result<Vec<Attachment>> {
        let t = self.visible_ticket(principal, number).await?;
        Ok(self
            .inner
            .store
            .attachments(t.id)
            .await?
            .into_iter()
            .filter(|a| self.allowed(principal, Permission::DownloadAttachment, &Resource::on_ticket(&t, a.internal)))
            .collect())
    }

    /// Checks access to an attachment and grants its download (audited). Anything the
    /// principal may not have is "not found".
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn download(
        &self,
        principal: &Principal,
        id: AttachmentId,
        address: Option<String>,
    ) -> Result<DownloadGrant> {
        let a = self.inner.store.attachment(id).await?.ok_or(Error::NotFound { what: "attachment" })?;
        let t =
            self.visible_ticket_by_id(principal, a.ticket).await.map_err(|_| Error::NotFound { what: "attachment" })?;
        if !self.allowed(principal, Permission::DownloadAttachment, &Resource::on_ticket(&t, a.internal)) {
            return Err(Error::NotFound { what: "attachment" });
        }
        let mut uow = UnitOfWork::new();
        uow.audit.push(audit_entry(
            self.now(),
            principal.actor().map(|a| a.to_ref()),
            AuditKind::AttachmentDownloaded,
            Some(format!("{}/{}", t.number, a.id)),
            address,
            a.file_name.to_string(),
        ));
        self.commit(uow).await?;
        let location = a.key.to_path();
        Ok(DownloadGrant { attachment: a, location })
    }

    /// Deletes attachment blobs older than the orphan delay that have no metadata row (an
    /// upload whose commit never happened). Returns how many were deleted.
    ///
    /// # Errors
    /// `Unavailable` when the attachment store cannot be listed.
    pub async fn sweep_orphans(&self, now: DateTime<Utc>) -> Result<u64> {
        let cutoff = now - self.inner.options.orphan_after;
        let prefix = Path::from("attachments");
        let mut listing = self.inner.blobs.list(Some(&prefix));
        let mut deleted = 0;
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(blob_error)?;
            if meta.last_modified >= cutoff {
                continue;
            }
            let Some(id) = meta.location.filename().and_then(|f| f.parse::<AttachmentId>().ok()) else { continue };
            if self.inner.store.attachment(id).await?.is_none() {
                self.inner.blobs.delete(&meta.location).await.map_err(blob_error)?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}
