//! `helpdesk backup --to DIR` and `helpdesk restore --from DIR`: the embedded store (sled) and
//! attachments on local disk, while the server runs.
//!
//! A backup directory holds `store/` (a sled database: one consistent cut of the store, written
//! by the running server through its control socket, or by this command when no server runs),
//! `attachments/` (the attachment files, copied after the cut, so every attachment the cut
//! refers to is there) and `backup.json` (what was copied, and when). PostgreSQL has its own
//! tools (`pg_dump`, point-in-time recovery: README); S3 attachments are kept by the bucket's
//! versioning or replication.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use helpdesk_http::Config;
use helpdesk_http::server;

/// The attachment directory when attachments are files on this machine.
fn local_attachments(config: &Config) -> Option<PathBuf> {
    let url =
        config.attachments_url.clone().unwrap_or_else(|| config.data_dir.join("attachments").display().to_string());
    if url.starts_with("file://") || !url.contains("://") {
        return Some(PathBuf::from(url.strip_prefix("file://").unwrap_or(&url)));
    }
    None
}

fn is_empty_or_missing(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none())
}

/// Copies the files under `from` into `to` (created), keeping the layout; returns how many.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<u64> {
    std::fs::create_dir_all(to)?;
    let mut n = 0;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            n += copy_tree(&source, &target)?;
        } else if kind.is_file() {
            std::fs::copy(&source, &target)?;
            n += 1;
        }
    }
    Ok(n)
}

/// `helpdesk backup --to DIR`.
pub async fn backup(config: &Config, to: &Path) -> anyhow::Result<()> {
    let to = std::path::absolute(to)?;
    if !is_empty_or_missing(&to) {
        bail!("{} is not empty: a backup goes into a new directory", to.display());
    }
    std::fs::create_dir_all(&to).with_context(|| format!("creating {}", to.display()))?;
    let store_dir = to.join("store");
    let socket = server::control::socket_path(config);
    let (summary, by) = match server::control::request_backup(&socket, &store_dir).await? {
        Some(summary) => (summary, "the running server"),
        None => {
            let store = server::open_store(config, false).await?;
            (store.backup_to(&store_dir).await.context("backing up the store")?, "this command (no server running)")
        }
    };
    println!(
        "store: {} records, {} tickets, one consistent cut (writes waited {} ms), written by {by}",
        summary.records, summary.tickets, summary.writes_waited_ms
    );
    let attachments = match local_attachments(config) {
        Some(dir) if dir.exists() => {
            let n = copy_tree(&dir, &to.join("attachments")).with_context(|| format!("copying {}", dir.display()))?;
            println!("attachments: {n} files from {}", dir.display());
            Some(n)
        }
        Some(_) => None,
        None => {
            println!("attachments: in object storage, not copied (use the bucket's versioning or replication)");
            None
        }
    };
    let manifest = serde_json::json!({
        "format": 1,
        "created_at": chrono::Utc::now(),
        "helpdesk_version": env!("CARGO_PKG_VERSION"),
        "store": { "kind": "sled", "records": summary.records, "tickets": summary.tickets },
        "attachments": attachments,
    });
    std::fs::write(to.join("backup.json"), serde_json::to_vec_pretty(&manifest)?)?;
    println!("backup written to {}", to.display());
    Ok(())
}

/// `helpdesk restore --from DIR`: into the configured (empty) sled directory and attachment
/// directory; the server must be stopped.
pub async fn restore(config: &Config, from: &Path) -> anyhow::Result<()> {
    let url = config.storage_url();
    let Some(path) = url.strip_prefix("sled:") else {
        bail!("restore is for the embedded store (storage_url sled:…); for PostgreSQL use pg_restore (README)");
    };
    let target = PathBuf::from(path.strip_prefix("//").unwrap_or(path));
    let source = from.join("store");
    if !source.is_dir() {
        bail!("{} has no store/ directory: not a helpdesk backup", from.display());
    }
    let attachments = local_attachments(config);
    if let Some(dir) = &attachments
        && from.join("attachments").is_dir()
        && !is_empty_or_missing(dir)
    {
        bail!("{} is not empty: restore into a new data directory", dir.display());
    }
    let (src, dst) = (source.clone(), target.clone());
    let summary = tokio::task::spawn_blocking(move || helpdesk_storage_sled::restore(&src, &dst))
        .await?
        .with_context(|| format!("restoring {} into {}", source.display(), target.display()))?;
    println!(
        "store: {} records, {} tickets restored into {} (consistency checked)",
        summary.records,
        summary.tickets,
        target.display()
    );
    match attachments {
        Some(dir) if from.join("attachments").is_dir() => {
            let n = copy_tree(&from.join("attachments"), &dir)?;
            println!("attachments: {n} files into {}", dir.display());
        }
        _ => println!("attachments: none in the backup, or kept in object storage"),
    }
    Ok(())
}
