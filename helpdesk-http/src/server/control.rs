//! The local control socket, `<data_dir>/control.sock`: how a command run on the server's host
//! asks the *running* server for what needs its open store. sled lets one process open a
//! database, so `helpdesk backup` cannot open it beside the server; it asks the server instead.
//!
//! The socket is a Unix socket readable and writable by its owner only (mode 0600, the server's
//! user): being able to connect is the same as being able to read the data directory, so it
//! needs no other credential. One request line, one answer line:
//!
//! ```text
//! backup /absolute/new/directory
//! ok <records> <tickets> <writes_waited_ms>       or       error <message>
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use helpdesk_core::ports::{BackupSummary, Store};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

use crate::Config;

/// The longest request line accepted.
const MAX_LINE: usize = 4_096;

/// Where the control socket of the server configured by `config` lives.
pub fn socket_path(config: &Config) -> PathBuf {
    config.data_dir.join("control.sock")
}

/// Serves the control socket at `path` until `stop`, then removes it. A socket file left by a
/// server that died is replaced; one that a running server answers on is refused.
///
/// # Errors
/// The socket cannot be created (another server runs on this data directory, or the directory
/// is not writable).
pub async fn serve(path: PathBuf, store: Arc<dyn Store>, stop: CancellationToken) -> anyhow::Result<()> {
    if tokio::net::UnixStream::connect(&path).await.is_ok() {
        bail!("{} answers: another server runs on this data directory", path.display());
    }
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)
        .with_context(|| format!("creating the control socket {}", path.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let store = store.clone();
                tokio::spawn(async move {
                    if let Err(e) = answer(stream, store).await {
                        tracing::warn!(error = %e, "control socket: a request failed");
                    }
                });
            }
        }
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

async fn answer(stream: tokio::net::UnixStream, store: Arc<dyn Store>) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    BufReader::new(read.take(MAX_LINE as u64)).read_line(&mut line).await?;
    let reply = match line.trim_end().split_once(' ') {
        Some(("backup", to)) if Path::new(to).is_absolute() => {
            tracing::info!(to, "backup requested on the control socket");
            match store.backup_to(Path::new(to)).await {
                Ok(s) => {
                    tracing::info!(
                        to,
                        records = s.records,
                        tickets = s.tickets,
                        writes_waited_ms = s.writes_waited_ms,
                        "backup written"
                    );
                    format!("ok {} {} {}\n", s.records, s.tickets, s.writes_waited_ms)
                }
                Err(e) => format!("error {}\n", e.to_string().replace('\n', " ")),
            }
        }
        Some(("backup", _)) => "error the backup directory must be an absolute path\n".to_owned(),
        _ => "error unknown request (known: backup /absolute/dir)\n".to_owned(),
    };
    write.write_all(reply.as_bytes()).await?;
    write.shutdown().await?;
    Ok(())
}

/// Asks the server listening on `path` for a backup into `to`; `None` when no server answers
/// there (then the caller may open the store itself).
///
/// # Errors
/// The server answered with an error, or the exchange broke off.
pub async fn request_backup(path: &Path, to: &Path) -> anyhow::Result<Option<BackupSummary>> {
    let mut stream = match tokio::net::UnixStream::connect(path).await {
        Ok(stream) => stream,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            bail!("{}: permission denied; run this as the server's user", path.display())
        }
        Err(_) => return Ok(None),
    };
    let to = to.to_str().context("the backup directory's path is not UTF-8")?;
    stream.write_all(format!("backup {to}\n").as_bytes()).await?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).await?;
    let reply = reply.trim_end();
    if let Some(counts) = reply.strip_prefix("ok ") {
        let mut n = counts.split(' ').map(str::parse::<u64>);
        if let (Some(Ok(records)), Some(Ok(tickets)), Some(Ok(writes_waited_ms))) = (n.next(), n.next(), n.next()) {
            return Ok(Some(BackupSummary { records, tickets, writes_waited_ms }));
        }
    }
    match reply.strip_prefix("error ") {
        Some(message) => bail!("the running server refused the backup: {message}"),
        None => bail!("the running server answered {reply:?}"),
    }
}
