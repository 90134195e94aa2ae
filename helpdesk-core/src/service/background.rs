//! Background work in one call: outbox delivery, service-level alerts, auto-close, purge and
//! the orphan sweep on their schedules, for the reference server and for every application that embeds the
//! library (without it, mail stays in the outbox and resolved tickets never close).
//!
//! Each step is also public on its own ([`OutboxDispatcher::run_once`],
//! [`HelpDesk::sla_alerts`], [`HelpDesk::auto_close`], [`HelpDesk::purge`], [`HelpDesk::sweep_orphans`]) for
//! applications that schedule work themselves. Every step is safe to run in several processes
//! at once: outbox claims are leased, alerts have derived ids, the others are idempotent.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::outbox::{DispatchReport, OutboxDispatcher};
use crate::ports::{Mailer, WorkflowSink};

use super::HelpDesk;

/// Callback for each outbox run that claimed messages (metrics, logs).
type ReportHook = Arc<dyn Fn(&DispatchReport) + Send + Sync>;
/// Callback after each maintenance round (an application's own housekeeping).
type MaintenanceHook = Arc<dyn Fn() + Send + Sync>;

/// The background loop of a [`HelpDesk`]; made by [`HelpDesk::background`], run by
/// [`Background::run`].
#[must_use = "a Background does nothing until `run` is awaited"]
pub struct Background {
    desk: HelpDesk,
    dispatcher: OutboxDispatcher,
    dispatch_every: Duration,
    maintain_every: Duration,
    sla_every: Duration,
    sla_lookback: chrono::Duration,
    auto_close_batch: usize,
    on_report: Option<ReportHook>,
    on_maintenance: Option<MaintenanceHook>,
}

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Background")
            .field("dispatch_every", &self.dispatch_every)
            .field("maintain_every", &self.maintain_every)
            .finish_non_exhaustive()
    }
}

impl HelpDesk {
    /// The background work of this help desk, delivering mail through `mailer` and workflow
    /// events through `workflow`: the outbox every second (at once again while a full batch
    /// was claimed), auto-close, purge and the orphan sweep every minute.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use helpdesk_core::HelpDesk;
    /// # use helpdesk_core::ports::{Mailer, WorkflowSink};
    /// # async fn example(desk: HelpDesk, mailer: Arc<dyn Mailer>, workflow: Arc<dyn WorkflowSink>) {
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let worker = tokio::spawn(desk.background(mailer, workflow).run(async move {
    ///     let _ = stopped.await;
    /// }));
    /// // … serve requests …
    /// let _ = stop.send(());
    /// worker.await.ok(); // the round in progress finishes first
    /// # }
    /// ```
    pub fn background(&self, mailer: Arc<dyn Mailer>, workflow: Arc<dyn WorkflowSink>) -> Background {
        let dispatcher = OutboxDispatcher::new(
            self.store().clone(),
            mailer,
            workflow,
            self.clock().clone(),
            self.options().outbox.clone(),
        );
        Background {
            desk: self.clone(),
            dispatcher,
            dispatch_every: Duration::from_secs(1),
            maintain_every: Duration::from_secs(60),
            sla_every: Duration::from_secs(15),
            sla_lookback: chrono::Duration::hours(24),
            auto_close_batch: 500,
            on_report: None,
            on_maintenance: None,
        }
    }
}

impl Background {
    /// How often the outbox is polled when it had nothing to claim (default 1 s).
    pub fn dispatch_every(mut self, every: Duration) -> Self {
        self.dispatch_every = every.max(Duration::from_millis(10));
        self
    }

    /// How often auto-close, purge and the orphan sweep run (default 60 s).
    pub fn maintain_every(mut self, every: Duration) -> Self {
        self.maintain_every = every.max(Duration::from_millis(10));
        self
    }

    /// How often the service-level alert loop runs (default 15 s; only with policies).
    pub fn sla_every(mut self, every: Duration) -> Self {
        self.sla_every = every.max(Duration::from_millis(10));
        self
    }

    /// How far back the first alert run of this process reads (default 24 hours): alerts that
    /// fell due while no process ran, within that time, go out late rather than never.
    pub fn sla_lookback(mut self, lookback: chrono::Duration) -> Self {
        self.sla_lookback = lookback.max(chrono::Duration::zero());
        self
    }

    /// Deliveries in flight at once (default 8).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.dispatcher = self.dispatcher.with_concurrency(n);
        self
    }

    /// Calls `hook` with the report of every outbox run that claimed something.
    pub fn on_report(mut self, hook: impl Fn(&DispatchReport) + Send + Sync + 'static) -> Self {
        self.on_report = Some(Arc::new(hook));
        self
    }

    /// Calls `hook` after every maintenance round.
    pub fn on_maintenance(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_maintenance = Some(Arc::new(hook));
        self
    }

    /// Runs until `stop` completes; the round in progress finishes first. Failures are logged
    /// and retried on the next round, never returned.
    pub async fn run(self, stop: impl Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        let mut next_maintenance = tokio::time::Instant::now();
        let mut next_alerts = tokio::time::Instant::now();
        let mut alerts = crate::SlaAlertCursor::starting(self.desk.now(), self.sla_lookback);
        // Schedules stored before the policies changed follow the new ones (beside the loop:
        // over many open tickets it takes a while, and mail must not wait for it).
        let desk = self.desk.clone();
        tokio::spawn(async move {
            if let Err(e) = desk.reload_sla().await {
                tracing::warn!(error = %e, "reading the saved service-level policies failed");
            }
            match desk.refresh_sla_schedules().await {
                Ok(r) if r.updated > 0 => {
                    tracing::info!(updated = r.updated, checked = r.checked, "service-level schedules refreshed")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "refreshing service-level schedules failed"),
            }
        });
        loop {
            let mut again = false;
            match self.dispatcher.run_once().await {
                Ok(report) if report.claimed > 0 => {
                    if let Some(hook) = &self.on_report {
                        hook(&report);
                    }
                    again = report.claimed >= self.desk.options().outbox.batch;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox dispatch failed; will retry"),
            }
            if !self.desk.sla_rules().is_empty() && tokio::time::Instant::now() >= next_alerts {
                next_alerts = tokio::time::Instant::now() + self.sla_every;
                match self.desk.sla_alerts(&mut alerts, self.desk.now()).await {
                    Ok(run) if run.alerted > 0 => {
                        tracing::info!(alerted = run.alerted, "service-level alerts enqueued")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "service-level alerts failed; will retry"),
                }
            }
            if tokio::time::Instant::now() >= next_maintenance {
                next_maintenance = tokio::time::Instant::now() + self.maintain_every;
                self.maintain().await;
            }
            let pause = if again { Duration::ZERO } else { self.dispatch_every };
            tokio::select! {
                biased;
                () = &mut stop => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    async fn maintain(&self) {
        match self.desk.reload_sla().await {
            Ok(true) => tracing::info!("service-level policies saved by another process are in force"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "reading the saved service-level policies failed"),
        }
        let now = self.desk.now();
        if let Err(e) = self.desk.auto_close(now, self.auto_close_batch).await {
            tracing::warn!(error = %e, "auto-close failed");
        }
        if let Err(e) = self.desk.purge(now).await {
            tracing::warn!(error = %e, "purge failed");
        }
        if let Err(e) = self.desk.sweep_orphans(now).await {
            tracing::warn!(error = %e, "orphan sweep failed");
        }
        if let Some(hook) = &self.on_maintenance {
            hook();
        }
    }
}
