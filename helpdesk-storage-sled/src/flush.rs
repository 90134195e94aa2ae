//! Group commit: writers wait for a flush that started after their commit; one flusher
//! serves every writer waiting at the time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use helpdesk_core::ports::StoreError;
use tokio::sync::{Notify, watch};

/// Counts of the durability machinery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushStats {
    /// Flushes of sled's log performed for writers.
    pub flushes: u64,
    /// Writes acknowledged after a flush.
    pub acknowledged_writes: u64,
}

#[derive(Debug)]
pub(crate) struct GroupCommit {
    requested: AtomicU64,
    done: watch::Sender<(u64, bool)>,
    wake: Arc<Notify>,
    flushes: AtomicU64,
    acknowledged: AtomicU64,
    db: sled::Db,
    /// Our own handle on sled's data file: sled 0.34 makes its log stable with
    /// `sync_file_range`, which neither flushes the device cache nor the file's metadata, so
    /// every group flush ends with an `fdatasync` of the file (skipped for temporary stores).
    file: Option<std::fs::File>,
}

impl GroupCommit {
    pub(crate) fn start(db: sled::Db, file: Option<std::fs::File>) -> Arc<Self> {
        let (done, _) = watch::channel((0, true));
        let gc = Arc::new(Self {
            requested: AtomicU64::new(0),
            done,
            wake: Arc::new(Notify::new()),
            flushes: AtomicU64::new(0),
            acknowledged: AtomicU64::new(0),
            db,
            file,
        });
        let weak = Arc::downgrade(&gc);
        let wake = gc.wake.clone();
        // A dedicated thread: flushes are blocking I/O and must not depend on a runtime. It
        // holds the store only while flushing, so dropping the store closes the database.
        std::thread::Builder::new()
            .name("helpdesk-sled-flusher".into())
            .spawn(move || flusher(weak, wake))
            .map_err(|e| tracing::error!(error = %e, "could not start the sled flusher"))
            .ok();
        gc
    }

    pub(crate) fn stats(&self) -> FlushStats {
        FlushStats {
            flushes: self.flushes.load(Ordering::SeqCst),
            acknowledged_writes: self.acknowledged.load(Ordering::SeqCst),
        }
    }

    /// Returns once a flush that began after this call has completed.
    pub(crate) async fn wait(&self) -> Result<(), StoreError> {
        let ticket = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut rx = self.done.subscribe();
        self.wake.notify_one();
        let (_, ok) = *rx
            .wait_for(|(flushed, _)| *flushed >= ticket)
            .await
            .map_err(|_| StoreError::Unavailable { source: "the sled flusher stopped".into() })?;
        if !ok {
            return Err(StoreError::Unavailable { source: "flushing the sled log failed".into() });
        }
        self.acknowledged.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

fn flusher(weak: std::sync::Weak<GroupCommit>, wake: Arc<Notify>) {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "sled flusher runtime");
            return;
        }
    };
    loop {
        let Some(gc) = weak.upgrade() else { return };
        let target = gc.requested.load(Ordering::SeqCst);
        if gc.done.borrow().0 >= target {
            // Nothing waiting: sleep until a writer (or the store's drop) wakes us.
            drop(gc);
            rt.block_on(async {
                let _ = tokio::time::timeout(std::time::Duration::from_millis(500), wake.notified()).await;
            });
            continue;
        }
        let ok = match gc.db.flush() {
            Ok(_) => match &gc.file {
                Some(f) => {
                    f.sync_data().map_err(|e| tracing::error!(error = %e, "fdatasync of the sled file failed")).is_ok()
                }
                None => true,
            },
            Err(e) => {
                tracing::error!(error = %e, "flushing the sled log failed");
                false
            }
        };
        gc.flushes.fetch_add(1, Ordering::SeqCst);
        gc.done.send_replace((target, ok));
    }
}
