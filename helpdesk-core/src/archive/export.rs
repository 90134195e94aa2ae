//! Writing an archive: every record through the store's reads, spooled part by part beside
//! the target (hashing as it goes), then packed into one `tar.gz` that replaces the target
//! only once it is complete.

use std::fs::File;
use std::path::{Path, PathBuf};

use futures::{StreamExt as _, TryStreamExt as _};
use object_store::{ObjectStore, ObjectStoreExt as _};

use super::ArchiveError;
use super::format::{
    BLOB_DIR, BlobEntry, FORMAT, FORMAT_VERSION, MANIFEST, Manifest, Part, PartSummary, PartWriter, SavedSettings,
};
use crate::model::{OutboxState, User};
use crate::ports::{
    AuditQuery, Cursor, PageSize, SortDirection, Store, StoreError, TicketQuery, TicketSort, TicketSortField, UserQuery,
};

/// Tickets whose history, comments and attachments are read at once.
const READS_IN_FLIGHT: usize = 16;

/// What an export includes beyond the records that always go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Include sessions (left out by default: a move between stores signs everyone out).
    pub sessions: bool,
    /// Include the blobs of the attachment store (attachments and avatars).
    pub attachments: bool,
}

/// A spool directory beside the target, removed when dropped.
struct Spool(PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sibling(to: &Path, suffix: &str) -> PathBuf {
    let mut name = to.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(suffix);
    to.with_file_name(name)
}

/// A directory only its owner can enter: the spooled parts hold password hashes and mails
/// not yet sent (which can carry reset links).
fn private_dir(path: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(path)
}

/// A new file only its owner can read (the archive: see [`private_dir`]).
fn private_file(path: &Path) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

/// Writes every record of `store` (and, when asked, the blobs of `blobs` that the records
/// name) to a new archive at `to`, replacing a file there only once the new one is complete.
/// The archive is readable by its owner only: it holds password hashes, and mails not yet
/// sent, which can carry reset links.
///
/// # Errors
/// A store, attachment-store or file error; a blob that a record names and the attachment
/// store does not have.
pub async fn export(
    store: &dyn Store,
    blobs: &dyn ObjectStore,
    options: ExportOptions,
    to: &Path,
) -> Result<Manifest, ArchiveError> {
    let spool = Spool(sibling(to, &format!(".parts-{}", uuid::Uuid::new_v4().simple())));
    private_dir(&spool.0).map_err(ArchiveError::io(&spool.0))?;
    let part = |p: Part| PartWriter::create(&spool.0.join(p.name()));
    let page = PageSize::new(PageSize::MAX).map_err(|e| ArchiveError::Format(e.to_string()))?;
    let mut parts: Vec<PartSummary> = Vec::new();
    let mut blob_keys: Vec<String> = Vec::new();

    // Users first: sessions and notices are read per user.
    let mut users: Vec<User> = Vec::new();
    let mut w = part(Part::Users)?;
    let mut cursor: Option<Cursor> = None;
    loop {
        let p = store.list_users(&UserQuery { cursor, limit: page, ..UserQuery::default() }).await?;
        for u in &p.items {
            w.record(u)?;
        }
        users.extend(p.items);
        match p.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    parts.push(w.finish(Part::Users.name())?);
    blob_keys.extend(users.iter().filter_map(|u| u.avatar.as_ref().map(|k| k.as_str().to_owned())));

    let mut w = part(Part::Rejections)?;
    let mut cursor: Option<Cursor> = None;
    loop {
        let p = store.rejections(cursor, page).await?;
        for r in &p.items {
            w.record(r)?;
        }
        match p.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    parts.push(w.finish(Part::Rejections.name())?);

    let mut w = part(Part::ApiKeys)?;
    let mut keys = store.list_api_keys().await?;
    keys.sort_by_key(|k| (k.created_at, k.id.as_uuid()));
    for k in &keys {
        w.record(k)?;
    }
    parts.push(w.finish(Part::ApiKeys.name())?);

    let mut w = part(Part::Tokens)?;
    let mut tokens = store.one_time_tokens().await?;
    tokens.sort_by_key(|t| t.hash);
    for t in &tokens {
        w.record(t)?;
    }
    parts.push(w.finish(Part::Tokens.name())?);

    if options.sessions {
        let mut w = part(Part::Sessions)?;
        for u in &users {
            let mut sessions = store.user_sessions(u.id).await?;
            sessions.sort_by_key(|s| (s.created_at, s.id.as_uuid()));
            for s in &sessions {
                w.record(s)?;
            }
        }
        parts.push(w.finish(Part::Sessions.name())?);
    }

    let mut w = part(Part::Tickets)?;
    let sort = TicketSort { field: TicketSortField::Number, direction: SortDirection::Asc };
    let mut cursor: Option<Cursor> = None;
    loop {
        let p = store.list_tickets(&TicketQuery { sort, cursor, limit: page, ..TicketQuery::default() }).await?;
        // What hangs off each ticket is read for several tickets at once (three reads each,
        // round trips on PostgreSQL), and written in the page's order.
        let records: Vec<super::TicketRecord> = futures::stream::iter(p.items)
            .map(|ticket| async move {
                let (history, comments, attachments) = futures::try_join!(
                    store.history(ticket.id),
                    store.comments(ticket.id),
                    store.attachments(ticket.id)
                )?;
                Ok::<_, StoreError>(super::TicketRecord { ticket, history, comments, attachments })
            })
            .buffered(READS_IN_FLIGHT)
            .try_collect()
            .await?;
        for record in &records {
            blob_keys.extend(record.attachments.iter().map(|a| a.key.as_str().to_owned()));
            w.record(record)?;
        }
        match p.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    parts.push(w.finish(Part::Tickets.name())?);

    let mut w = part(Part::Outbox)?;
    for state in [OutboxState::Pending, OutboxState::Delivered, OutboxState::Dead] {
        let mut cursor: Option<Cursor> = None;
        loop {
            let p = store.list_outbox(state, cursor, page).await?;
            for mut r in p.items {
                r.lease_token = None;
                r.lease_until = None;
                w.record(&r)?;
            }
            match p.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    parts.push(w.finish(Part::Outbox.name())?);

    let mut w = part(Part::Audit)?;
    let mut cursor: Option<Cursor> = None;
    loop {
        let p = store.list_audit(&AuditQuery { cursor, limit: page, ..AuditQuery::default() }).await?;
        for a in &p.items {
            w.record(a)?;
        }
        match p.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    parts.push(w.finish(Part::Audit.name())?);

    let mut w = part(Part::Notices)?;
    for u in &users {
        for n in store.notices(u.id, u32::MAX as usize).await? {
            w.record(&n)?;
        }
    }
    parts.push(w.finish(Part::Notices.name())?);

    // Messages that came in by mail, with their raw bytes among the blobs.
    let mut w = part(Part::Inbound)?;
    let mut before = None;
    loop {
        let batch = store.list_inbound(None, before, 500).await?;
        for m in &batch {
            w.record(m)?;
            blob_keys.push(m.raw.clone());
        }
        match batch.last() {
            Some(m) if batch.len() == 500 => before = Some((m.received_at, m.id)),
            _ => break,
        }
    }
    parts.push(w.finish(Part::Inbound.name())?);

    let mut w = part(Part::Settings)?;
    let sla = store.sla_spec().await?.map(|(sla, _)| sla);
    let macros = saved_document(store, crate::ports::DocumentKey::Macros).await?;
    let views = saved_document(store, crate::ports::DocumentKey::Views).await?;
    let fields = saved_document(store, crate::ports::DocumentKey::CustomFields).await?;
    if sla.is_some() || macros.is_some() || views.is_some() || fields.is_some() {
        w.record(&SavedSettings { sla, macros, views, fields })?;
    }
    parts.push(w.finish(Part::Settings.name())?);

    let mut blob_files: Vec<(String, PathBuf)> = Vec::new();
    if options.attachments {
        let mut w = part(Part::Blobs)?;
        for (n, key) in blob_keys.iter().enumerate() {
            let entry = format!("{BLOB_DIR}{n:06}");
            let path = spool.0.join(format!("blob-{n:06}"));
            let blob_err = |source| ArchiveError::Blob { key: key.clone(), source };
            let bytes = blobs
                .get(&object_store::path::Path::from(key.as_str()))
                .await
                .map_err(blob_err)?
                .bytes()
                .await
                .map_err(|source| ArchiveError::Blob { key: key.clone(), source })?;
            let mut b = PartWriter::create(&path)?;
            b.raw(&bytes)?;
            let summary = b.finish(&entry)?;
            w.record(&BlobEntry {
                key: key.clone(),
                size: summary.bytes,
                sha256: summary.sha256,
                entry: entry.clone(),
            })?;
            blob_files.push((entry, path));
        }
        parts.insert(0, w.finish(Part::Blobs.name())?);
    }

    let manifest = Manifest {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        created_at: crate::ports::Clock::now(&crate::ports::SystemClock),
        producer: concat!("helpdesk-core ", env!("CARGO_PKG_VERSION")).to_owned(),
        ticket_number_high_water: store.ticket_number_high_water().await?,
        sessions: options.sessions,
        attachments: options.attachments,
        parts,
    };
    let (spool_dir, to_owned, m) = (spool.0.clone(), to.to_owned(), manifest.clone());
    tokio::task::spawn_blocking(move || pack(&spool_dir, &m, &blob_files, &to_owned))
        .await
        .map_err(|e| ArchiveError::Format(format!("packing the archive stopped: {e}")))??;
    drop(spool);
    Ok(manifest)
}

/// Packs the spooled parts into `<to>.partial`, then renames it over `to`.
fn pack(spool: &Path, manifest: &Manifest, blob_files: &[(String, PathBuf)], to: &Path) -> Result<(), ArchiveError> {
    let partial = sibling(to, ".partial");
    let file = private_file(&partial).map_err(ArchiveError::io(&partial))?;
    let gz = flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let io = ArchiveError::io(&partial);
    let result = (|| {
        let json = serde_json::to_vec_pretty(manifest).map_err(std::io::Error::other)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(json.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(manifest.created_at.timestamp().max(0) as u64);
        header.set_cksum();
        tar.append_data(&mut header, MANIFEST, json.as_slice())?;
        for p in &manifest.parts {
            tar.append_path_with_name(spool.join(&p.name), &p.name)?;
            if p.name == Part::Blobs.name() {
                for (entry, path) in blob_files {
                    tar.append_path_with_name(path, entry)?;
                }
            }
        }
        let gz = tar.into_inner()?;
        let mut out = gz.finish()?;
        std::io::Write::flush(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(io(e));
    }
    std::fs::rename(&partial, to).map_err(ArchiveError::io(to))
}

/// A saved settings document as its type, when one was saved.
async fn saved_document<T: serde::de::DeserializeOwned>(
    store: &dyn Store,
    key: crate::ports::DocumentKey,
) -> Result<Option<T>, ArchiveError> {
    match store.document(key).await? {
        Some((doc, _)) => Ok(Some(serde_json::from_value(doc).map_err(|e| StoreError::Backend {
            backend: "settings",
            source: format!("the saved {}: {e}", key.as_str()).into(),
        })?)),
        None => Ok(None),
    }
}
