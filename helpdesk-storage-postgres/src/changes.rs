//! [`PgChangeFeed`]: live updates across every server process on one database, with
//! PostgreSQL's `LISTEN`/`NOTIFY`.
//!
//! `publish` hands the changes to a task of the feed, which sends them as
//! `pg_notify('helpdesk_changes', <json>)` in one statement per batch (off the request's path:
//! the commit has already returned). Every process, this one included, `LISTEN`s on the
//! channel through a dedicated connection and passes what it hears to its local subscribers,
//! so a change reaches every open page once, whichever process made it.
//!
//! What is lost, and why that is acceptable: notifications sent while a process's listening
//! connection is down (sqlx reconnects on the next receive), and changes whose `NOTIFY` fails
//! (they are then delivered to this process only). Live updates are a convenience over data
//! that is already committed: a page that missed one shows the change at its next load.
//! A change is a few hundred bytes, far under `NOTIFY`'s 8000-byte payload limit.

use std::sync::Arc;
use std::time::Duration;

use helpdesk_core::ports::{Change, ChangeFeed, LocalChangeFeed, StoreError};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use crate::{PgStore, pg_error};

/// The channel every process listens on.
pub const CHANNEL: &str = "helpdesk_changes";

/// Most changes sent in one `NOTIFY` statement.
const BATCH: usize = 256;

/// The cross-process change feed (see the module documentation).
#[derive(Debug)]
pub struct PgChangeFeed {
    local: LocalChangeFeed,
    outgoing: mpsc::UnboundedSender<Change>,
    tasks: Vec<JoinHandle<()>>,
}

impl PgChangeFeed {
    /// Starts listening (one connection of its own, outside the store's pool size) and
    /// publishing through `store`'s pool.
    ///
    /// # Errors
    /// `Unavailable`/`Backend` when the listening connection cannot be opened.
    pub async fn start(store: &PgStore) -> Result<Arc<Self>, StoreError> {
        let local = LocalChangeFeed::default();
        let mut listener = PgListener::connect_with(store.pool()).await.map_err(pg_error)?;
        listener.listen(CHANNEL).await.map_err(pg_error)?;
        let hear = {
            let local = local.clone();
            tokio::spawn(async move {
                loop {
                    match listener.recv().await {
                        Ok(n) => match serde_json::from_str::<Change>(n.payload()) {
                            Ok(c) => local.deliver(c),
                            Err(e) => tracing::warn!(error = %e, "an unreadable change notification was skipped"),
                        },
                        Err(e) => {
                            tracing::warn!(error = %e, "the change listener lost its connection; reconnecting");
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                    }
                }
            })
        };
        let (outgoing, rx) = mpsc::unbounded_channel();
        let send = tokio::spawn(send_loop(store.pool().clone(), rx, local.clone()));
        Ok(Arc::new(Self { local, outgoing, tasks: vec![hear, send] }))
    }
}

async fn send_loop(pool: PgPool, mut rx: mpsc::UnboundedReceiver<Change>, local: LocalChangeFeed) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH
            && let Ok(c) = rx.try_recv()
        {
            batch.push(c);
        }
        let payloads: Vec<String> = batch.iter().filter_map(|c| serde_json::to_string(c).ok()).collect();
        let sent = sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
            .bind(CHANNEL)
            .bind(payloads)
            .execute(&pool)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, changes = batch.len(), "NOTIFY failed; the changes reach this process's pages only");
            batch.into_iter().for_each(|c| local.deliver(c));
        }
    }
}

impl ChangeFeed for PgChangeFeed {
    fn publish(&self, changes: Vec<Change>) {
        for c in changes {
            // The send task lives as long as the feed; a closed channel means shutdown.
            let _ = self.outgoing.send(c);
        }
    }
    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.local.subscribe()
    }
}

impl Drop for PgChangeFeed {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}
