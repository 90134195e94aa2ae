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
    pub(crate) db: sled::Db,
    /// Our own handle on sled's data file: sled 0.34 makes its log stable with
    /// `sync_file_range`, which neither flushes the device cache nor the file's metadata, so
    /// every group flush ends with an `fdatasync` of the file (skipped for temporary stores).
    file: Option<std::fs::File>,
}

/// Closing the store: the last handle on the store tells the flusher to stop and waits until
/// it lets go of the database, so the database is closed (and its lock released) by the time
/// the store is dropped, not a moment later on the flusher's thread (a reopen in the same
/// process would find it locked).
#[derive(Debug, Default)]
pub(crate) struct Closer {
    closing: std::sync::atomic::AtomicBool,
    /// Held by the flusher while it holds the store.
    busy: std::sync::Mutex<()>,
}

impl Closer {
    /// Stops the flusher for good; returns once it holds nothing of the store.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        drop(self.busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    }
}

/// Closes the flusher when the last handle on the store goes (see [`Closer`]).
#[derive(Debug)]
pub(crate) struct CloseOnDrop(pub(crate) Arc<Closer>, pub(crate) Arc<Notify>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
        self.1.notify_one();
    }
}

impl GroupCommit {
    /// Starts the flusher thread; the [`CloseOnDrop`] must be dropped before the store's trees
    /// and this `GroupCommit` (it is the store's first field).
    pub(crate) fn start(db: sled::Db, file: Option<std::fs::File>) -> (Arc<Self>, CloseOnDrop) {
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
        let closer = Arc::new(Closer::default());
        let theirs = closer.clone();
        // A dedicated thread: flushes are blocking I/O and must not depend on a runtime. It
        // holds the store only while flushing, so dropping the store closes the database.
        std::thread::Builder::new()
            .name("helpdesk-sled-flusher".into())
            .spawn(move || flusher(weak, wake, &theirs))
            .map_err(|e| tracing::error!(error = %e, "could not start the sled flusher"))
            .ok();
        let wake = gc.wake.clone();
        (gc, CloseOnDrop(closer, wake))
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

fn flusher(weak: std::sync::Weak<GroupCommit>, wake: Arc<Notify>, closer: &Closer) {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "sled flusher runtime");
            return;
        }
    };
    loop {
        let busy = closer.busy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if closer.closing.load(Ordering::SeqCst) {
            return;
        }
        let Some(gc) = weak.upgrade() else { return };
        let target = gc.requested.load(Ordering::SeqCst);
        if gc.done.borrow().0 >= target {
            // Nothing waiting: sleep until a writer (or the store's drop) wakes us.
            drop(gc);
            drop(busy);
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
        drop(gc);
        drop(busy);
    }
}
