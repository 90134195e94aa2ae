//! Composition of the reference server from a [`Config`]: storage by URL, the attachment
//! store, the token secret, the core service, the first admin, mail and workflow transports,
//! the background loops (outbox dispatch, auto-close, purge, orphan sweep) and graceful
//! shutdown. Everything here is also usable by tests that start real servers.

pub mod config;
#[cfg(unix)]
pub mod control;
mod gauges;
pub mod imap;
pub mod listener;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use helpdesk_core::password::{Argon2Hasher, Argon2Options};
use helpdesk_core::ports::{ChangeFeed, Mailer, Store, UserQuery, WorkflowSink};
use helpdesk_core::{BootstrapAdmin, HelpDesk, HelpDeskOptions};
use helpdesk_mail::{FileMailer, FileWorkflowSink, MailSettings, SmtpMailer, WebhookSink};
use object_store::ObjectStore;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Secret};
use crate::state::{AppState, HttpOptions};
use crate::throttle::AddressLimits;
use crate::tokens::TokenOptions;

/// Opens the store the configuration names (`sled:<path>` or `postgres://…`), running
/// migrations on PostgreSQL when `migrate` is set.
///
/// # Errors
/// An unknown scheme, or the store cannot be opened.
pub async fn open_store(config: &Config, migrate: bool) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.storage_url();
    if let Some(path) = url.strip_prefix("sled:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if let Some(parent) = Path::new(path).parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut o = helpdesk_storage_sled::SledOptions::new(path);
        o.cache_capacity_bytes = config.sled_cache_mb * 1024 * 1024;
        o.row_cache_bytes = config.sled_row_cache_mb * 1024 * 1024;
        let store = tokio::task::spawn_blocking(move || helpdesk_storage_sled::SledStore::open(&o))
            .await?
            .with_context(|| format!("opening sled store at {path}"))?;
        let store = Arc::new(store);
        gauges::watch_sled(&store);
        return Ok(store);
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let o = helpdesk_storage_postgres::PgOptions {
            max_connections: config.postgres_max_connections,
            read_lane: config.postgres_read_lane,
            ..helpdesk_storage_postgres::PgOptions::default()
        };
        let store = helpdesk_storage_postgres::PgStore::connect(&url, &o).await.context("connecting to PostgreSQL")?;
        if migrate {
            store.migrate().await.context("running migrations")?;
        }
        let store = Arc::new(store);
        gauges::watch_pg(&store);
        return Ok(store);
    }
    bail!("storage_url: use sled:<path> or postgres://…, not {url:?}")
}

/// Opens the attachment store: a local directory (default `<data_dir>/attachments`, or
/// `file://<path>`), or `memory://`. (S3 comes with the attachments issue.)
///
/// # Errors
/// An unknown scheme, or the directory cannot be created.
pub fn open_blobs(config: &Config) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let url =
        config.attachments_url.clone().unwrap_or_else(|| config.data_dir.join("attachments").display().to_string());
    if url == "memory://" {
        return Ok(Arc::new(object_store::memory::InMemory::new()));
    }
    if let Some(rest) = url.strip_prefix("s3://") {
        return open_s3(config, rest);
    }
    if url.contains("://") && !url.starts_with("file://") {
        bail!("attachments_url: use a path, file://<path>, memory:// or s3://bucket/prefix, not {url:?}");
    }
    let path = PathBuf::from(url.strip_prefix("file://").unwrap_or(&url));
    std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
    // Written files and their directories are synced before a put returns, so an attachment
    // (or a raw inbound message) is as durable as the row that names it.
    Ok(Arc::new(object_store::local::LocalFileSystem::new_with_prefix(&path)?.with_fsync(true)))
}

/// An S3 store for `bucket/prefix`, with bounded retries and time-outs so an outage answers
/// quickly instead of hanging requests.
fn open_s3(config: &Config, bucket_and_prefix: &str) -> anyhow::Result<Arc<dyn ObjectStore>> {
    use object_store::aws::AmazonS3Builder;
    use object_store::{BackoffConfig, ClientOptions, RetryConfig};
    let (bucket, prefix) = bucket_and_prefix.split_once('/').unwrap_or((bucket_and_prefix, ""));
    if bucket.is_empty() {
        bail!("attachments_url: s3://bucket/prefix needs a bucket");
    }
    let s3 = &config.s3;
    let timeout = Duration::from_secs(s3.timeout_secs.max(1));
    let mut b = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_region(&s3.region)
        .with_virtual_hosted_style_request(!s3.path_style)
        .with_client_options(
            ClientOptions::new().with_timeout(timeout).with_connect_timeout(timeout.min(Duration::from_secs(3))),
        )
        .with_retry(RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(1),
                base: 2.0,
            },
            max_retries: s3.max_retries,
            retry_timeout: timeout,
        });
    if let Some(e) = &s3.endpoint {
        b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
    }
    if let Some(k) = &s3.access_key_id {
        b = b.with_access_key_id(k);
    }
    if let Some(k) = &s3.secret_access_key {
        b = b.with_secret_access_key(k.expose());
    }
    let store = b.build().context("configuring the S3 attachment store")?;
    let prefix = prefix.trim_matches('/');
    Ok(if prefix.is_empty() {
        Arc::new(store)
    } else {
        Arc::new(object_store::prefix::PrefixStore::new(store, prefix.to_owned()))
    })
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// The token secret: from configuration, or (development) generated once into
/// `<data_dir>/jwt-secret` with owner-only permissions and reused on every start.
///
/// # Errors
/// The file cannot be read or written.
pub fn jwt_secret(config: &Config) -> anyhow::Result<Secret> {
    if let Some(s) = &config.jwt_secret {
        return Ok(s.clone());
    }
    let path = config.data_dir.join("jwt-secret");
    std::fs::create_dir_all(&config.data_dir)?;
    if !path.exists() {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        write_private(&path, &hex)?;
        tracing::info!(path = %path.display(), "generated a development token secret");
    }
    let s = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Secret::new(s.trim()))
}

/// The core service for `config` over `store` and `blobs`.
///
/// # Errors
/// Bad hashing parameters.
pub fn build_desk(
    config: &Config,
    store: Arc<dyn Store>,
    blobs: Arc<dyn ObjectStore>,
    changes: Option<Arc<dyn ChangeFeed>>,
) -> anyhow::Result<HelpDesk> {
    let hasher = Argon2Hasher::new(Argon2Options {
        memory_kib: config.password_hash.memory_kib,
        iterations: config.password_hash.iterations,
        parallelism: 1,
    })
    .map_err(|e| anyhow::anyhow!("password_hash: {e}"))?;
    let mut options = HelpDeskOptions::default();
    let o = config.outbox;
    options.outbox = helpdesk_core::OutboxOptions {
        max_attempts: o.max_attempts,
        base_backoff: chrono::Duration::seconds(o.base_backoff_secs),
        max_backoff: chrono::Duration::seconds(o.max_backoff_secs),
        lease: chrono::Duration::seconds(o.lease_secs),
        delivery_timeout: Duration::from_secs(o.delivery_timeout_secs),
        ..options.outbox
    };
    options.terms_version.clone_from(&config.web.terms_version);
    options.policy = config.policy.clone();
    // Rating links are signed with a key derived from the token secret, which every process
    // of a deployment shares.
    options.satisfaction = helpdesk_core::SatisfactionOptions {
        link_key: (config.rating_link_days > 0)
            .then(|| jwt_secret(config).map(|s| helpdesk_core::LinkKey::derive(s.expose().as_bytes())))
            .transpose()?,
        link_ttl: chrono::Duration::days(config.rating_link_days),
    };
    let from = config.mail.from.rsplit('<').next().unwrap_or(&config.mail.from).trim_end_matches('>').trim();
    let m = &config.mail_in;
    options.mail_in = helpdesk_core::MailInOptions {
        address: m.address.clone(),
        own_addresses: vec![from.to_ascii_lowercase()],
        message_id_domain: from.rsplit('@').next().unwrap_or("localhost").to_ascii_lowercase(),
        trusted_authserv_ids: m.trusted_authserv_ids.clone(),
        category: m.category.clone().zip(m.sub_category.clone()),
        per_sender_per_hour: m.per_sender_per_hour,
        max_message_bytes: m.max_message_kib.saturating_mul(1024),
        // Reply addresses and confirmation links are signed with a key of their own, derived
        // from the token secret every process shares.
        link_key: Some(helpdesk_core::LinkKey::derive_for(
            jwt_secret(config)?.expose().as_bytes(),
            "helpdesk mail in v1",
        )),
        confirm_ttl: chrono::Duration::hours(m.confirm_hours),
    };
    let sla = config.sla.compile().map_err(|e| anyhow::anyhow!("sla: {e:?}"))?;
    let mut builder = HelpDesk::builder(store, blobs).hasher(Arc::new(hasher)).options(options).sla(sla);
    if let Some(changes) = changes {
        builder = builder.changes(changes);
    }
    Ok(builder.build()?)
}

/// The change feed of the live pages: on PostgreSQL, [`PgChangeFeed`](helpdesk_storage_postgres::PgChangeFeed)
/// (`LISTEN`/`NOTIFY`, so every process's pages hear every process's changes; two pooled
/// connections of its own and one listening); `None` on sled (one process: core's local feed).
///
/// # Errors
/// PostgreSQL cannot be reached.
pub async fn change_feed(config: &Config) -> anyhow::Result<Option<Arc<dyn ChangeFeed>>> {
    let url = config.storage_url();
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Ok(None);
    }
    let o = helpdesk_storage_postgres::PgOptions {
        max_connections: 2,
        read_lane: 0,
        ..helpdesk_storage_postgres::PgOptions::default()
    };
    let store = helpdesk_storage_postgres::PgStore::connect(&url, &o).await.context("connecting the change feed")?;
    let feed = helpdesk_storage_postgres::PgChangeFeed::start(&store).await.context("listening for changes")?;
    Ok(Some(feed))
}

/// The process-wide Prometheus recorder, installed by the server (never by [`crate::router`],
/// so an application embedding the router keeps its own recorder). `None` when another
/// recorder was installed first.
///
/// The recorder keeps every latency sample until its upkeep folds them into the summaries; a
/// thread runs that upkeep every 5 seconds (what the exporter's own `install` does), so memory
/// stays flat whether or not anyone scrapes `/metrics` (without it, a million requests held
/// their million samples).
pub fn prometheus() -> Option<&'static metrics_exporter_prometheus::PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new().name("metrics upkeep".into()).spawn(move || {
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "could not start the metrics upkeep thread");
            }
            Some(handle)
        })
        .as_ref()
}

/// What the admin's system page says about this server (never a secret: URLs lose their
/// credentials, only the kind and place are named).
fn system_facts(config: &Config) -> Vec<(String, String)> {
    let storage = config.storage_url();
    let storage = if storage.starts_with("postgres") {
        let host = storage.split('@').nth(1).unwrap_or("").split('/').next().unwrap_or("");
        format!("PostgreSQL at {host}")
    } else {
        format!("sled (embedded) in {}", storage.trim_start_matches("sled:"))
    };
    let attachments =
        config.attachments_url.clone().unwrap_or_else(|| config.data_dir.join("attachments").display().to_string());
    let attachments = match attachments.split_once("://") {
        Some(("s3", rest)) => format!("S3 bucket {}", rest.split('/').next().unwrap_or(rest)),
        Some(("memory", _)) => "in memory (lost on restart)".to_owned(),
        Some((_, path)) => format!("local disk in {path}"),
        None => format!("local disk in {attachments}"),
    };
    let mail = match &config.mail.smtp_url {
        Some(url) => {
            let url = url.expose();
            let host = url
                .rsplit('@')
                .next()
                .unwrap_or(url)
                .split("://")
                .last()
                .unwrap_or("")
                .split(['/', '?'])
                .next()
                .unwrap_or("");
            format!("SMTP via {host}")
        }
        None => {
            format!("files in {}", config.mail.dir.clone().unwrap_or_else(|| config.data_dir.join("mail")).display())
        }
    };
    vec![
        ("Storage".to_owned(), storage),
        ("Attachments".to_owned(), attachments),
        ("Mail".to_owned(), mail),
        ("Public address".to_owned(), config.public_url()),
    ]
}

/// HTTP options for `config` with `secret`.
pub fn http_options(config: &Config, secret: &Secret) -> HttpOptions {
    HttpOptions {
        tokens: TokenOptions {
            secret: secret.expose().as_bytes().to_vec(),
            issuer: config.public_url(),
            audience: "helpdesk-api".into(),
            access_ttl: chrono::Duration::minutes(config.access_token_minutes),
        },
        address_limits: AddressLimits {
            logins_per_minute: config.limits.logins_per_minute_per_address,
            registrations_per_hour: config.limits.registrations_per_hour_per_address,
            resets_per_hour: config.limits.resets_per_hour_per_address,
        },
        trusted_proxies: config.trusted_proxies.clone(),
        cors_origins: config.cors_origins.clone(),
        body_limit: config.limits.body_bytes,
        hsts: config.public_url().starts_with("https://"),
        metrics: prometheus().map(|handle| {
            let endpoint = crate::MetricsEndpoint::new(move || {
                gauges::publish();
                handle.render()
            });
            match &config.metrics_token {
                Some(token) => endpoint.with_bearer(token.expose()),
                None => endpoint,
            }
        }),
        web: crate::WebOptions {
            notice: config.web.notice.clone().filter(|n| !n.trim().is_empty()),
            terms: config.web.terms_version.clone().map(|version| crate::Terms {
                version,
                url: config.web.terms_url.clone(),
                text: config.web.terms_text.clone(),
            }),
            system: system_facts(config),
        },
    }
}

/// Creates the first admin: the configured one, or on an empty store `admin@localhost` with
/// a generated password written to `<data_dir>/initial-admin-password` (owner-only; its
/// path is logged, never the password; it must be changed at first sign-in).
///
/// # Errors
/// Storage failures, or a configured admin the policy refuses.
pub async fn bootstrap_admin(config: &Config, desk: &HelpDesk) -> anyhow::Result<()> {
    if let Some(a) = &config.bootstrap_admin {
        let created = desk
            .ensure_admin(BootstrapAdmin {
                email: a.email.clone(),
                password: a.password.as_ref().map(|p| helpdesk_core::password::Password::new(p.expose())),
                first_name: a.first_name.clone(),
                last_name: a.last_name.clone(),
            })
            .await
            .context("bootstrap_admin")?;
        if let Some(p) = created {
            let path = config.data_dir.join("initial-admin-password");
            write_private(&path, p.expose())?;
            tracing::info!(email = %a.email, password_file = %path.display(), "created the first admin; the password must be changed at first sign-in");
        }
        return Ok(());
    }
    let any = desk
        .store()
        .list_users(&UserQuery { limit: helpdesk_core::ports::PageSize::new(1)?, ..UserQuery::default() })
        .await?;
    if !any.items.is_empty() {
        return Ok(());
    }
    let created = desk
        .ensure_admin(BootstrapAdmin {
            email: "admin@localhost".into(),
            password: None,
            first_name: "Help Desk".into(),
            last_name: "Admin".into(),
        })
        .await?;
    if let Some(p) = created {
        std::fs::create_dir_all(&config.data_dir)?;
        let path = config.data_dir.join("initial-admin-password");
        let _ = std::fs::remove_file(&path);
        write_private(&path, p.expose())?;
        tracing::info!(
            email = "admin@localhost",
            password_file = %path.display(),
            "created the first admin; sign in with the password in that file, then choose a new one"
        );
    }
    Ok(())
}

/// Mail and workflow transports for `config`: SMTP when `mail.smtp_url` is set (else `.eml`
/// files), the signed webhook when `workflow.webhook_url` is set (else `.json` files).
///
/// # Errors
/// A bad SMTP URL or webhook client.
pub fn transports(config: &Config) -> anyhow::Result<(Arc<dyn Mailer>, Arc<dyn WorkflowSink>)> {
    let settings = MailSettings {
        from: config.mail.from.clone(),
        product_name: config.mail.product_name.clone(),
        public_url: config.public_url(),
        logo_url: config.mail.logo_url.clone(),
    };
    let mailer: Arc<dyn Mailer> = match &config.mail.smtp_url {
        Some(url) => {
            Arc::new(SmtpMailer::from_url(url.expose(), settings, Duration::from_secs(config.mail.smtp_timeout_secs))?)
        }
        None => {
            Arc::new(FileMailer::new(config.mail.dir.clone().unwrap_or_else(|| config.data_dir.join("mail")), settings))
        }
    };
    let workflow: Arc<dyn WorkflowSink> = match (&config.workflow.webhook_url, &config.workflow.webhook_secret) {
        (Some(url), Some(secret)) => Arc::new(
            WebhookSink::new(
                url.clone(),
                secret.expose().as_bytes().to_vec(),
                Duration::from_secs(config.workflow.timeout_secs),
            )
            .map_err(|e| anyhow::anyhow!("workflow.webhook_url: {e}"))?,
        ),
        _ => Arc::new(FileWorkflowSink::new(config.data_dir.join("workflow"))),
    };
    Ok((mailer, workflow))
}

/// Runs the background work ([`helpdesk_core::Background`]) until `stop` is cancelled:
/// outbox dispatch every `interval` (at once again while there is more), the service-level
/// alert loop every `alerts_every` (with policies), and once a minute
/// auto-close, purge, the orphan sweep and the address limiters' shrink, with the outbox
/// counters in the metrics. A round in progress finishes before the loop returns.
pub async fn background(
    state: AppState,
    mailer: Arc<dyn Mailer>,
    workflow: Arc<dyn WorkflowSink>,
    interval: Duration,
    alerts_every: Duration,
    stop: CancellationToken,
) {
    let limiter_state = state.clone();
    state
        .desk()
        .background(mailer, workflow)
        .dispatch_every(interval)
        .sla_every(alerts_every)
        .on_report(|r| {
            metrics::counter!("outbox_delivered_total").increment(r.delivered as u64);
            metrics::counter!("outbox_retried_total").increment(r.retried as u64);
            metrics::counter!("outbox_dead_total").increment(r.dead as u64);
        })
        .on_maintenance(move || limiter_state.limiter().shrink())
        .run(stop.cancelled())
        .await;
}

/// A composed server, ready to listen.
#[derive(Debug)]
pub struct App {
    /// Handler state.
    pub state: AppState,
    /// Mail transport.
    pub mailer: Arc<dyn Mailer>,
    /// Workflow transport.
    pub workflow: Arc<dyn WorkflowSink>,
}

/// Composes the server for `config`: store, attachments, secret, service, first admin.
///
/// # Errors
/// Any part that cannot be opened or is misconfigured.
pub async fn compose(config: &Config) -> anyhow::Result<App> {
    let store = open_store(config, config.migrate_on_start).await?;
    let blobs = open_blobs(config)?;
    let secret = jwt_secret(config)?;
    let desk = build_desk(config, store, blobs, change_feed(config).await?)?;
    // Service-level policies an admin saved replace the configured ones.
    desk.reload_sla().await?;
    bootstrap_admin(config, &desk).await?;
    let (mailer, workflow) = transports(config)?;
    Ok(App { state: AppState::new(desk, http_options(config, &secret)), mailer, workflow })
}

async fn shutdown_signal(stop: CancellationToken) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
        () = stop.cancelled() => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
    stop.cancel();
}

/// Serves `config` until SIGINT/SIGTERM (or `stop`), then drains requests and background work.
///
/// # Errors
/// Composition or binding failures.
pub async fn serve(config: &Config, stop: CancellationToken) -> anyhow::Result<()> {
    let app = compose(config).await?;
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(address = %addr, storage = %redact_url(&config.storage_url()), "helpdesk listening");
    tracing::info!(
        "API: http://{addr}/api/v1 — OpenAPI: http://{addr}/api/v1/openapi.json — sign in with POST /api/v1/auth/login"
    );
    let bg = tokio::spawn(background(
        app.state.clone(),
        app.mailer.clone(),
        app.workflow.clone(),
        Duration::from_millis(config.dispatch_interval_ms.max(10)),
        Duration::from_millis(config.sla_alert_interval_ms.max(10)),
        stop.clone(),
    ));
    if let Some(imap) = config.mail_in.imap.clone() {
        tokio::spawn(imap::run(imap, app.state.desk().clone(), stop.clone()));
    }
    #[cfg(unix)]
    {
        let (path, store, stop) = (control::socket_path(config), app.state.desk().store().clone(), stop.clone());
        tokio::spawn(async move {
            if let Err(e) = control::serve(path, store, stop).await {
                tracing::warn!(error = %e, "no control socket: `helpdesk backup` cannot reach this server");
            }
        });
    }
    let router = crate::router(app.state.clone());
    // Live-update streams never end on their own: end them when shutdown begins.
    let (live_state, live_stop) = (app.state.clone(), stop.clone());
    tokio::spawn(async move {
        live_stop.cancelled().await;
        live_state.end_live_streams();
    });
    listener::serve(listener, router, &config.connections, shutdown_signal(stop.clone())).await?;
    stop.cancel();
    let _ = bg.await;
    tracing::info!("stopped");
    Ok(())
}

/// A URL with its password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{user}:***@{}", &url[..s], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
