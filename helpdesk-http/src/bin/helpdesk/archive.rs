//! `helpdesk export --to FILE` and `helpdesk import --from FILE`: every record of the
//! configured store (and, with `--attachments`, the blobs of its attachment store) in one
//! archive, and back into an empty store of either kind. The format and what it leaves out:
//! `helpdesk_core::archive`. Moving from sled to PostgreSQL with it: README.

use std::path::Path;

use anyhow::Context;
use helpdesk_core::archive::{self, ExportOptions, ImportOptions};
use helpdesk_http::Config;
use helpdesk_http::server;

/// `helpdesk export`.
pub async fn export(config: &Config, to: &Path, options: ExportOptions) -> anyhow::Result<()> {
    let store = server::open_store(config, false).await.context("opening the store (is the server stopped?)")?;
    let blobs = server::open_blobs(config)?;
    let m = archive::export(store.as_ref(), blobs.as_ref(), options, to)
        .await
        .with_context(|| format!("exporting to {}", to.display()))?;
    println!("exported to {}", to.display());
    for p in &m.parts {
        println!("  {:<18} {:>9} records  {:>12} bytes  sha256 {}", p.name, p.records, p.bytes, p.sha256);
    }
    println!("  ticket numbers handed out up to {}", m.ticket_number_high_water);
    if !m.sessions {
        println!("  sessions left out: everyone signs in again after an import (--sessions keeps them)");
    }
    if !m.attachments {
        println!("  blobs left out: the target must reach the same attachment store (--attachments copies them)");
    }
    Ok(())
}

/// `helpdesk import`, or with `check` only the verification.
pub async fn import(config: &Config, from: &Path, options: ImportOptions, check: bool) -> anyhow::Result<()> {
    if check {
        let m = archive::verify(from).await.with_context(|| format!("checking {}", from.display()))?;
        let records: u64 = m.parts.iter().map(|p| p.records).sum();
        println!("{}: intact ({} parts, {records} records, written {})", from.display(), m.parts.len(), m.created_at);
        return Ok(());
    }
    let store = server::open_store(config, config.migrate_on_start).await?;
    let blobs = server::open_blobs(config)?;
    let r = archive::import(store.as_ref(), blobs.as_ref(), from, options)
        .await
        .with_context(|| format!("importing {}", from.display()))?;
    println!(
        "imported {} records and {} blobs from {}; the next ticket number is above {}",
        r.records,
        r.blobs,
        from.display(),
        r.ticket_number_high_water
    );
    Ok(())
}
