//! Reading an archive: [`verify`] checks every hash and count of the whole file first; only
//! then [`import`] reads it again and writes, blobs first, each part in batches. The file is
//! read on tokio's blocking pool and its lines handed over a bounded channel, so the writes
//! (async) and the reading (blocking) overlap and memory stays bounded.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use futures::{StreamExt as _, TryStreamExt as _};
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::ArchiveError;
use super::format::{BLOB_DIR, BlobEntry, FORMAT, FORMAT_VERSION, MANIFEST, Manifest, Part, TicketRecord, hex};
use crate::model::{ApiKey, AuditEntry, Notice, OneTimeToken, OutboxRecord, RejectionRecord, Session, User};
use crate::ports::{AuditQuery, PageSize, Store, TicketQuery, UnitOfWork, Versioned};

/// How an import treats the target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Import into a store that holds records already (a clash on an id, email or ticket
    /// number then stops the import part-way).
    pub allow_non_empty: bool,
}

/// What an import wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// The archive's manifest.
    pub manifest: Manifest,
    /// Records written, every kind together (a ticket with its history, comments and
    /// attachments counts once).
    pub records: u64,
    /// Blobs written to the attachment store.
    pub blobs: u64,
    /// The ticket-number counter afterwards: the next ticket gets a higher number.
    pub ticket_number_high_water: u64,
}

/// Lines per batch handed from the reader to the writer.
const BATCH_LINES: usize = 200;
/// Tickets per unit of work.
const TICKETS_PER_COMMIT: usize = 25;
/// Units of work of tickets committed at once.
const COMMITS_IN_FLIGHT: usize = 8;

fn open(path: &Path) -> Result<tar::Archive<flate2::read::GzDecoder<BufReader<File>>>, ArchiveError> {
    let file = File::open(path).map_err(ArchiveError::io(path))?;
    Ok(tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(file))))
}

fn damaged(what: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::Format(what.to_string())
}

fn entry_name<R: Read>(e: &tar::Entry<'_, R>) -> Result<String, ArchiveError> {
    let path = e.path().map_err(damaged)?;
    path.to_str().map(str::to_owned).ok_or_else(|| damaged("an entry name is not UTF-8"))
}

fn read_manifest<R: Read>(e: &mut tar::Entry<'_, R>) -> Result<Manifest, ArchiveError> {
    if entry_name(e)? != MANIFEST {
        return Err(damaged(format!("the first entry is not {MANIFEST}: not a helpdesk archive")));
    }
    let m: Manifest = serde_json::from_reader(e).map_err(|err| damaged(format!("{MANIFEST}: {err}")))?;
    if m.format != FORMAT {
        return Err(damaged(format!("format {:?} is not {FORMAT:?}", m.format)));
    }
    if m.format_version != FORMAT_VERSION {
        return Err(damaged(format!(
            "format version {} (this helpdesk reads version {FORMAT_VERSION}: use the helpdesk that wrote it, or a newer one)",
            m.format_version
        )));
    }
    Ok(m)
}

/// Hashes an entry, counting its lines.
fn digest(mut r: impl Read) -> std::io::Result<(String, u64, u64)> {
    let (mut h, mut bytes, mut lines) = (Sha256::new(), 0u64, 0u64);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        bytes += n as u64;
        lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
    }
    Ok((hex(&h.finalize()), bytes, lines))
}

fn verify_blocking(path: &Path) -> Result<Manifest, ArchiveError> {
    let mut archive = open(path)?;
    let mut entries = archive.entries().map_err(ArchiveError::io(path))?;
    let mut first = entries.next().ok_or_else(|| damaged("empty file"))?.map_err(damaged)?;
    let manifest = read_manifest(&mut first)?;
    let mut seen: Vec<String> = Vec::new();
    let mut blobs: HashMap<String, BlobEntry> = HashMap::new();
    let mut blobs_seen = 0usize;
    for e in entries {
        let mut e = e.map_err(damaged)?;
        let name = entry_name(&e)?;
        if name.starts_with(BLOB_DIR) {
            let Some(expected) = blobs.get(&name) else {
                return Err(damaged(format!("{name} is not listed in blobs.ndjson (or comes before it)")));
            };
            let (sha, size, _) = digest(&mut e).map_err(damaged)?;
            if sha != expected.sha256 || size != expected.size {
                return Err(damaged(format!("{name} ({}): its bytes do not match their SHA-256", expected.key)));
            }
            blobs_seen += 1;
            continue;
        }
        let Some(part) = manifest.part(&name) else {
            return Err(damaged(format!("{name} is not in the manifest")));
        };
        let (sha, bytes, lines) = if name == Part::Blobs.name() {
            let mut raw = Vec::new();
            e.read_to_end(&mut raw).map_err(damaged)?;
            for line in raw.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let b: BlobEntry = serde_json::from_slice(line).map_err(|err| damaged(format!("{name}: {err}")))?;
                blobs.insert(b.entry.clone(), b);
            }
            digest(raw.as_slice()).map_err(damaged)?
        } else {
            digest(&mut e).map_err(damaged)?
        };
        if sha != part.sha256 || bytes != part.bytes || lines != part.records {
            return Err(damaged(format!(
                "{name}: {lines} records, {bytes} bytes, SHA-256 {sha}; the manifest says {} records, {} bytes, {}",
                part.records, part.bytes, part.sha256
            )));
        }
        seen.push(name);
    }
    if let Some(missing) = manifest.parts.iter().find(|p| !seen.contains(&p.name)) {
        return Err(damaged(format!("{} is missing (the file is cut short?)", missing.name)));
    }
    if blobs_seen != blobs.len() {
        return Err(damaged(format!("{} of {} blobs are missing", blobs.len() - blobs_seen, blobs.len())));
    }
    Ok(manifest)
}

/// Checks an archive whole: its manifest, then every part's record count, size and SHA-256
/// and every blob's. Writes nothing.
///
/// # Errors
/// [`ArchiveError::Format`] naming what does not match; [`ArchiveError::Io`].
pub async fn verify(from: &Path) -> Result<Manifest, ArchiveError> {
    let from = from.to_owned();
    tokio::task::spawn_blocking(move || verify_blocking(&from))
        .await
        .map_err(|e| damaged(format!("reading the archive stopped: {e}")))?
}

/// What the reader hands the writer.
enum Chunk {
    Lines(Part, Vec<String>),
    Blob(String, Vec<u8>),
}

fn read_blocking(path: &Path, tx: &mpsc::Sender<Result<Chunk, ArchiveError>>) -> Result<(), ArchiveError> {
    let mut archive = open(path)?;
    let mut blob_keys: HashMap<String, String> = HashMap::new();
    for e in archive.entries().map_err(ArchiveError::io(path))?.skip(1) {
        let mut e = e.map_err(damaged)?;
        let name = entry_name(&e)?;
        if name.starts_with(BLOB_DIR) {
            let key = blob_keys.get(&name).cloned().ok_or_else(|| damaged(format!("{name} is not listed")))?;
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).map_err(damaged)?;
            if tx.blocking_send(Ok(Chunk::Blob(key, bytes))).is_err() {
                return Ok(());
            }
            continue;
        }
        let part = Part::from_name(&name).ok_or_else(|| damaged(format!("{name} is not a part")))?;
        let mut batch = Vec::with_capacity(BATCH_LINES);
        for line in BufReader::new(e).lines() {
            let line = line.map_err(damaged)?;
            if part == Part::Blobs {
                let b: BlobEntry = serde_json::from_str(&line).map_err(|err| damaged(format!("{name}: {err}")))?;
                blob_keys.insert(b.entry, b.key);
                continue;
            }
            batch.push(line);
            if batch.len() == BATCH_LINES {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_LINES));
                if tx.blocking_send(Ok(Chunk::Lines(part, full))).is_err() {
                    return Ok(());
                }
            }
        }
        if !batch.is_empty() && tx.blocking_send(Ok(Chunk::Lines(part, batch))).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

fn parse<T: DeserializeOwned>(part: Part, lines: &[String]) -> Result<Vec<T>, ArchiveError> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).map_err(|e| damaged(format!("{}: a record does not parse: {e}", part.name()))))
        .collect()
}

/// What the target holds, if anything.
async fn contents(store: &dyn Store) -> Result<Option<String>, ArchiveError> {
    let one = PageSize::new(1).map_err(|e| damaged(e.to_string()))?;
    let mut found = Vec::new();
    let users = store.user_count().await?;
    if users > 0 {
        found.push(format!("{users} users"));
    }
    if !store.list_tickets(&TicketQuery { limit: one, ..TicketQuery::default() }).await?.items.is_empty() {
        found.push("tickets".to_owned());
    }
    if !store.list_audit(&AuditQuery { limit: one, ..AuditQuery::default() }).await?.items.is_empty() {
        found.push("audit entries".to_owned());
    }
    if !store.list_api_keys().await?.is_empty() {
        found.push("API keys".to_owned());
    }
    Ok((!found.is_empty()).then(|| found.join(", ")))
}

/// Loads an archive into `store` and `blobs`: checks the whole file first ([`verify`]), refuses
/// a store that holds records unless `options` allow it, writes the blobs, then every part in
/// order, then raises the ticket-number counter above both the source's counter and the
/// highest imported number. Finally checks that the store holds as many users as imported.
///
/// # Errors
/// [`ArchiveError::NotEmpty`], [`ArchiveError::Format`] (nothing written), or a store,
/// attachment-store or file error part-way.
pub async fn import(
    store: &dyn Store,
    blobs: &dyn ObjectStore,
    from: &Path,
    options: ImportOptions,
) -> Result<ImportReport, ArchiveError> {
    let manifest = verify(from).await?;
    let was_empty = match contents(store).await? {
        Some(found) if !options.allow_non_empty => return Err(ArchiveError::NotEmpty(found)),
        found => found.is_none(),
    };
    let (tx, mut rx) = mpsc::channel(4);
    let path = from.to_owned();
    let reader = tokio::task::spawn_blocking(move || {
        if let Err(e) = read_blocking(&path, &tx) {
            let _ = tx.blocking_send(Err(e));
        }
    });
    let mut report = ImportReport { ticket_number_high_water: 0, records: 0, blobs: 0, manifest: manifest.clone() };
    let mut counts: HashMap<&'static str, u64> = HashMap::new();
    let mut highest_number = 0u64;
    while let Some(chunk) = rx.recv().await {
        match chunk? {
            Chunk::Blob(key, bytes) => {
                blobs
                    .put(&object_store::path::Path::from(key.as_str()), PutPayload::from(bytes))
                    .await
                    .map_err(|source| ArchiveError::Blob { key, source })?;
                report.blobs += 1;
            }
            Chunk::Lines(part, lines) => {
                *counts.entry(part.name()).or_default() += lines.len() as u64;
                report.records += lines.len() as u64;
                write_part(store, part, &lines, &mut highest_number).await?;
            }
        }
    }
    reader.await.map_err(|e| damaged(format!("reading the archive stopped: {e}")))?;
    for p in &manifest.parts {
        let imported =
            if p.name == Part::Blobs.name() { report.blobs } else { counts.get(p.name.as_str()).copied().unwrap_or(0) };
        if imported != p.records {
            return Err(damaged(format!("{}: {imported} records imported, the manifest says {}", p.name, p.records)));
        }
    }
    store.raise_ticket_number(manifest.ticket_number_high_water.max(highest_number)).await?;
    report.ticket_number_high_water = store.ticket_number_high_water().await?;
    if was_empty {
        let users = store.user_count().await?;
        let expected = manifest.part(Part::Users.name()).map_or(0, |p| p.records);
        if users != expected {
            return Err(damaged(format!(
                "the store counts {users} users after the import, the archive has {expected}"
            )));
        }
    }
    Ok(report)
}

async fn commit(store: &dyn Store, uow: UnitOfWork) -> Result<(), ArchiveError> {
    Ok(store.commit(uow).await?)
}

async fn write_part(store: &dyn Store, part: Part, lines: &[String], highest: &mut u64) -> Result<(), ArchiveError> {
    match part {
        Part::Blobs => {}
        Part::Users => {
            let users: Vec<User> = parse(part, lines)?;
            commit(
                store,
                UnitOfWork { users: users.into_iter().map(Versioned::insert).collect(), ..UnitOfWork::new() },
            )
            .await?;
        }
        Part::Rejections => {
            let rejections: Vec<RejectionRecord> = parse(part, lines)?;
            commit(store, UnitOfWork { rejections, ..UnitOfWork::new() }).await?;
        }
        Part::ApiKeys => {
            for k in parse::<ApiKey>(part, lines)? {
                store.create_api_key(&k).await?;
            }
        }
        Part::Tokens => {
            let new_tokens: Vec<OneTimeToken> = parse(part, lines)?;
            commit(store, UnitOfWork { new_tokens, ..UnitOfWork::new() }).await?;
        }
        Part::Sessions => {
            for s in parse::<Session>(part, lines)? {
                store.create_session(&s).await?;
            }
        }
        Part::Tickets => {
            let records: Vec<TicketRecord> = parse(part, lines)?;
            for r in &records {
                *highest = (*highest).max(r.ticket.number.seq());
            }
            // Tickets are independent of each other: several units of work at once.
            futures::stream::iter(records.chunks(TICKETS_PER_COMMIT))
                .map(|batch| {
                    let mut uow = UnitOfWork::new();
                    for r in batch {
                        uow.tickets.push(Versioned::insert(r.ticket.clone()));
                        uow.events.extend(r.history.iter().cloned());
                        uow.comments.extend(r.comments.iter().cloned());
                        uow.attachments.extend(r.attachments.iter().cloned());
                    }
                    commit(store, uow)
                })
                .buffer_unordered(COMMITS_IN_FLIGHT)
                .try_collect::<Vec<()>>()
                .await?;
        }
        Part::Outbox => {
            let records: Vec<OutboxRecord> = parse(part, lines)?;
            store.import_outbox(records).await?;
        }
        Part::Audit => {
            let audit: Vec<AuditEntry> = parse(part, lines)?;
            commit(store, UnitOfWork { audit, ..UnitOfWork::new() }).await?;
        }
        Part::Notices => {
            let notices: Vec<Notice> = parse(part, lines)?;
            commit(store, UnitOfWork { notices, ..UnitOfWork::new() }).await?;
        }
        Part::Inbound => {
            let inbound: Vec<crate::model::InboundMessage> = parse(part, lines)?;
            let inbound = inbound.into_iter().map(Versioned::insert).collect();
            commit(store, UnitOfWork { inbound, ..UnitOfWork::new() }).await?;
        }
        Part::Settings => {
            let saved: Vec<super::SavedSettings> = parse(part, lines)?;
            for s in saved {
                // An import starts the saved version again at 1 (versions only order saves
                // within one store).
                if let Some(sla) = &s.sla {
                    let expected = store.sla_spec().await?.map_or(0, |(_, v)| v);
                    store.save_sla_spec(sla, expected).await?;
                }
                let documents = [
                    (crate::ports::DocumentKey::Macros, s.macros.as_ref().map(serde_json::to_value)),
                    (crate::ports::DocumentKey::Views, s.views.as_ref().map(serde_json::to_value)),
                    (crate::ports::DocumentKey::CustomFields, s.fields.as_ref().map(serde_json::to_value)),
                ];
                for (key, doc) in documents {
                    let Some(doc) = doc else { continue };
                    let doc = doc
                        .map_err(|e| crate::ports::StoreError::Backend { backend: "settings", source: Box::new(e) })?;
                    let expected = store.document(key).await?.map_or(0, |(_, v)| v);
                    store.save_document(key, &doc, expected).await?;
                }
            }
        }
    }
    Ok(())
}
