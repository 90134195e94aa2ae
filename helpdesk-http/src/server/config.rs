//! The reference server's configuration: a TOML file and `HELPDESK_…` environment variables
//! (environment wins; nested keys use `__`, e.g. `HELPDESK_BOOTSTRAP_ADMIN__EMAIL`). Unknown
//! keys are refused. Secrets are [`Secret`]s: redacted in `Debug`, so never in logs. Every
//! field has a default, so no configuration at all gives a working development server.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use helpdesk_core::password::Argon2Options;
use serde::Deserialize;

/// A secret string: redacted in `Debug` and `Display`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `development` (defaults that just work) or `production` (refuses to start without a real
/// secret and public URL).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// Local use.
    #[default]
    Development,
    /// A real deployment.
    Production,
}

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The first admin, created at start-up if no user has this email.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Email.
    pub email: String,
    /// Password; left out, one is generated into `initial-admin-password` in the data dir.
    pub password: Option<Secret>,
    /// First name.
    #[serde(default = "default_admin_first")]
    pub first_name: String,
    /// Last name.
    #[serde(default = "default_admin_last")]
    pub last_name: String,
}

fn default_admin_first() -> String {
    "Help Desk".into()
}
fn default_admin_last() -> String {
    "Admin".into()
}

/// Per-client-address limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Login attempts per minute per address.
    pub logins_per_minute_per_address: u32,
    /// Registrations per hour per address.
    pub registrations_per_hour_per_address: u32,
    /// Forgot-password requests per hour per address.
    pub resets_per_hour_per_address: u32,
    /// Largest JSON body, in bytes.
    pub body_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            logins_per_minute_per_address: 20,
            registrations_per_hour_per_address: 5,
            resets_per_hour_per_address: 20,
            body_bytes: 64 * 1024,
        }
    }
}

/// What one client can hold of the server: connections and the time they may stay silent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionsConfig {
    /// Open connections at most; past it new ones wait in the listen backlog until one
    /// closes (a warning says so). Lowered at start to what the open-file limit allows.
    pub max: usize,
    /// Seconds a connection may take to send a complete request head, counted from when it
    /// opens or goes idle after a response: the header-read and the keep-alive idle
    /// time-out in one.
    pub header_read_timeout_secs: u64,
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        Self { max: 4096, header_read_timeout_secs: 20 }
    }
}

/// Mail settings: SMTP when `smtp_url` is set, otherwise `.eml` files in `dir`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// `smtp://host:587?tls=required`, `smtps://user:pass@host:465`, … (a secret: it may hold
    /// credentials).
    pub smtp_url: Option<Secret>,
    /// Time-out of each SMTP command, in seconds.
    pub smtp_timeout_secs: u64,
    /// `From:` address.
    pub from: String,
    /// Product name in subjects and signatures.
    pub product_name: String,
    /// Logo shown at the top of HTML mails.
    pub logo_url: Option<String>,
    /// Directory for `.eml` files when no SMTP server is configured (default `<data_dir>/mail`).
    pub dir: Option<PathBuf>,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            smtp_timeout_secs: 20,
            from: "Help Desk <helpdesk@localhost>".into(),
            product_name: "Help Desk".into(),
            logo_url: None,
            dir: None,
        }
    }
}

/// Mail in: tickets and replies by mail (`helpdesk mail ingest`, `POST /api/v1/mail/inbound`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailInConfig {
    /// The support address people write to (`support@example.com`). With it, every mail about
    /// a ticket says `Reply-To: support+<token>@example.com`, signed for its ticket and
    /// recipient, so answers thread without trusting the subject. Its local part may have at
    /// most 15 characters (the token takes 48 of the 64 a local part may have).
    pub address: Option<String>,
    /// The authserv-ids (RFC 8601) of your receiving MTAs, whose `Authentication-Results`
    /// headers are believed (`dmarc=pass`, or `dkim=pass` aligned with the From domain). Without
    /// one, a new ticket by mail waits for its sender to confirm through a mailed link.
    pub trusted_authserv_ids: Vec<String>,
    /// Category of tickets opened by mail (default: the catalogue's first).
    pub category: Option<String>,
    /// Sub-category of tickets opened by mail (default: the category's first).
    pub sub_category: Option<String>,
    /// Messages one sender may send per hour before the next ones are held.
    pub per_sender_per_hour: u64,
    /// Largest message accepted, in KiB; a larger one is refused (the MTA bounces it).
    pub max_message_kib: u64,
    /// How long a held message's confirmation link works, in hours.
    pub confirm_hours: i64,
    /// An IMAP mailbox the server fetches messages from.
    pub imap: Option<ImapConfig>,
}

/// The IMAP mailbox of mail in: every server process polls it (with `IDLE` where the server
/// has it); each message is stored once however many do, and marked (or moved) only once
/// stored, so a crash between fetching and storing loses nothing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapConfig {
    /// Host name.
    pub host: String,
    /// Port (default 993 with TLS, 143 without).
    #[serde(default)]
    pub port: Option<u16>,
    /// TLS from the first byte (IMAPS, the default); `false` only for a server on the same
    /// machine or network that offers none.
    #[serde(default = "default_true")]
    pub tls: bool,
    /// User name.
    pub username: String,
    /// Password (a secret).
    pub password: Secret,
    /// The mailbox to read (default `INBOX`).
    #[serde(default = "default_mailbox")]
    pub mailbox: String,
    /// Move stored messages to this mailbox; without it they stay, marked `\Seen` and
    /// `$HelpdeskStored`.
    #[serde(default)]
    pub move_to: Option<String>,
    /// Seconds between checks (with `IDLE`: the longest wait for news).
    #[serde(default = "default_poll_secs")]
    pub poll_secs: u64,
    /// The window of a process's claim on a message (default 300 s; windows start at
    /// multiples of it, so a claim holds to the end of its window): other processes leave
    /// it alone meanwhile, so a message is not worked on twice; one the claimer could not
    /// store (it died, or the store was down) is taken again after it.
    #[serde(default = "default_claim_secs")]
    pub claim_secs: u64,
}

fn default_claim_secs() -> u64 {
    300
}

fn default_true() -> bool {
    true
}

fn default_mailbox() -> String {
    "INBOX".into()
}

fn default_poll_secs() -> u64 {
    60
}

impl ImapConfig {
    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(if self.tls { 993 } else { 143 })
    }
}

impl Default for MailInConfig {
    fn default() -> Self {
        Self {
            address: None,
            trusted_authserv_ids: Vec::new(),
            category: None,
            sub_category: None,
            per_sender_per_hour: 20,
            max_message_kib: 25 * 1024,
            confirm_hours: 72,
            imap: None,
        }
    }
}

/// The external workflow system's webhook; events go to `<data_dir>/workflow` files without it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkflowConfig {
    /// Where events are POSTed.
    pub webhook_url: Option<String>,
    /// HMAC key the receiver verifies signatures with (required with a webhook URL).
    pub webhook_secret: Option<Secret>,
    /// Time-out of one delivery, in seconds.
    pub timeout_secs: u64,
}

impl Default for WorkflowConfig {
    fn default() -> Self {
        Self { webhook_url: None, webhook_secret: None, timeout_secs: 10 }
    }
}

/// The S3 (or S3-compatible) attachment store, used when `attachments_url` is
/// `s3://bucket/prefix`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// Endpoint for S3-compatible servers (MinIO, Ceph, …); AWS when left out.
    pub endpoint: Option<String>,
    /// Region.
    pub region: String,
    /// Access key id (the environment's AWS credentials when left out).
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<Secret>,
    /// Path-style requests (`endpoint/bucket/key`), which most S3-compatible servers need.
    pub path_style: bool,
    /// Time-out of one S3 request, in seconds.
    pub timeout_secs: u64,
    /// Retries of a failed request (bounded, so an outage answers 503 quickly).
    pub max_retries: usize,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            endpoint: None,
            region: "us-east-1".into(),
            access_key_id: None,
            secret_access_key: None,
            path_style: false,
            timeout_secs: 10,
            max_retries: 2,
        }
    }
}

/// Outbox delivery (SPEC §11 defaults).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Attempts before a message is dead.
    pub max_attempts: u32,
    /// First back-off in seconds (doubles each attempt).
    pub base_backoff_secs: i64,
    /// Longest back-off in seconds.
    pub max_backoff_secs: i64,
    /// How long a claim lasts, in seconds.
    pub lease_secs: i64,
    /// Time-out of one delivery, in seconds.
    pub delivery_timeout_secs: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base_backoff_secs: 10,
            max_backoff_secs: 3600,
            lease_secs: 60,
            delivery_timeout_secs: 30,
        }
    }
}

/// Password hashing cost (argon2id).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordHashConfig {
    /// Memory in KiB (default 19456).
    pub memory_kib: u32,
    /// Iterations (default 2).
    pub iterations: u32,
}

impl Default for PasswordHashConfig {
    fn default() -> Self {
        let d = Argon2Options::default();
        Self { memory_kib: d.memory_kib, iterations: d.iterations }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `development` or `production`.
    pub profile: Profile,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where sled, attachments, mail files and the development secret live.
    pub data_dir: PathBuf,
    /// The public base URL: the only source of links in mail.
    pub public_url: Option<String>,
    /// `sled:<path>` (default `sled:<data_dir>/db`) or `postgres://…`.
    pub storage_url: Option<String>,
    /// Attachment store: a path or `file://<path>` (default `<data_dir>/attachments`),
    /// `memory://`, or `s3://bucket/prefix` (see `s3`).
    pub attachments_url: Option<String>,
    /// S3 settings for an `s3://` attachment store.
    pub s3: S3Config,
    /// Run database migrations at start-up (PostgreSQL).
    pub migrate_on_start: bool,
    /// HMAC secret for access tokens (at least 32 bytes); development generates one into the
    /// data directory.
    pub jwt_secret: Option<Secret>,
    /// Access token lifetime in minutes.
    pub access_token_minutes: i64,
    /// Origins allowed by CORS.
    pub cors_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// When set, `/metrics` answers only requests with `Authorization: Bearer <token>`.
    pub metrics_token: Option<Secret>,
    /// Log format.
    pub log_format: LogFormat,
    /// sled cache in MiB.
    pub sled_cache_mb: u64,
    /// Ticket rows kept in memory beside sled's cache, in MiB (counted by their bytes).
    pub sled_row_cache_mb: u64,
    /// PostgreSQL pool size.
    pub postgres_max_connections: u32,
    /// PostgreSQL read-lane connections beside the pool (the reads on every request's path,
    /// without sqlx's ping on release; 0 turns it off).
    pub postgres_read_lane: u32,
    /// Per-address limits and the body limit.
    pub limits: LimitsConfig,
    /// Connection cap and time-outs.
    pub connections: ConnectionsConfig,
    /// Password hashing cost.
    pub password_hash: PasswordHashConfig,
    /// The first admin.
    pub bootstrap_admin: Option<AdminConfig>,
    /// Mail.
    pub mail: MailConfig,
    /// Mail in.
    pub mail_in: MailInConfig,
    /// The workflow webhook.
    pub workflow: WorkflowConfig,
    /// Outbox delivery.
    pub outbox: OutboxConfig,
    /// Outbox dispatch interval in milliseconds.
    pub dispatch_interval_ms: u64,
    /// How often the service-level alert loop runs, in milliseconds (with policies only).
    pub sla_alert_interval_ms: u64,
    /// How many days after a resolution its satisfaction-rating link works (and the rating can
    /// be changed); 0 sends no rating links.
    pub rating_link_days: i64,
    /// What the web pages show that a deployment decides.
    pub web: WebConfig,
    /// Options of the access policy (`policy.coordinators_limited_to_department`,
    /// `policy.requesters_tag_new_tickets`).
    pub policy: helpdesk_core::policy::PolicyOptions,
    /// Service levels: business-hours calendars and SLA policies (`[[sla.calendars]]`,
    /// `[[sla.policies]]`, `sla.warning_percent`; README, "Service levels"). None by default.
    pub sla: helpdesk_core::sla::SlaSpec,
}

/// What the web pages show that a deployment decides.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// A notice on the employees' home page (support hours, an urgent contact).
    pub notice: Option<String>,
    /// When set, registering requires accepting the terms of use of this version.
    pub terms_version: Option<String>,
    /// A link to the terms of use.
    pub terms_url: Option<String>,
    /// The terms of use as text, shown on the registration page.
    pub terms_text: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            profile: Profile::Development,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("helpdesk-data"),
            public_url: None,
            storage_url: None,
            attachments_url: None,
            s3: S3Config::default(),
            migrate_on_start: true,
            jwt_secret: None,
            access_token_minutes: 15,
            rating_link_days: 14,
            policy: helpdesk_core::policy::PolicyOptions::default(),
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            metrics_token: None,
            log_format: LogFormat::Text,
            sled_cache_mb: 4,
            sled_row_cache_mb: 48,
            postgres_max_connections: 16,
            postgres_read_lane: 8,
            limits: LimitsConfig::default(),
            connections: ConnectionsConfig::default(),
            password_hash: PasswordHashConfig::default(),
            bootstrap_admin: None,
            mail: MailConfig::default(),
            mail_in: MailInConfig::default(),
            workflow: WorkflowConfig::default(),
            outbox: OutboxConfig::default(),
            dispatch_interval_ms: 1000,
            sla_alert_interval_ms: 15_000,
            web: WebConfig::default(),
            sla: helpdesk_core::sla::SlaSpec::default(),
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or environment could not be read or has unknown or bad keys.
    #[error("configuration: {0}")]
    Load(Box<figment::Error>),
    /// A value is not acceptable.
    #[error("configuration: {field}: {message}")]
    Invalid {
        /// The key.
        field: &'static str,
        /// Why.
        message: String,
    },
}

impl Config {
    /// Loads `file` (if given) and then `HELPDESK_…` variables over it.
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad key.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut f = Figment::new();
        if let Some(p) = file {
            if !p.exists() {
                return Err(ConfigError::Invalid {
                    field: "config",
                    message: format!("{} does not exist", p.display()),
                });
            }
            f = f.merge(Toml::file(p));
        }
        // Not configuration keys: the config file's path, the log filter, and the test
        // harness's own variables.
        let env = Env::prefixed("HELPDESK_").split("__").filter(|k| {
            let k = k.as_str().to_ascii_lowercase();
            !(k == "config" || k == "log" || k == "require_services" || k == "ingest_api_key" || k.starts_with("test_"))
        });
        f = f.merge(env);
        let c: Config = f.extract().map_err(|e| ConfigError::Load(Box::new(e)))?;
        c.validate()?;
        Ok(c)
    }

    /// Checks values that types cannot, and the production profile's requirements.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field, message: &str| Err(ConfigError::Invalid { field, message: message.to_owned() });
        if !(1..=24 * 60).contains(&self.access_token_minutes) {
            return bad("access_token_minutes", "between 1 and 1440");
        }
        if !(0..=365).contains(&self.rating_link_days) {
            return bad("rating_link_days", "between 0 (no rating links) and 365");
        }
        if let Some(s) = &self.jwt_secret
            && s.expose().len() < 32
        {
            return bad("jwt_secret", "at least 32 bytes");
        }
        if let Some(u) = &self.public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return bad("public_url", "an http:// or https:// URL");
        }
        if let Some(u) = &self.mail.smtp_url
            && !(u.expose().starts_with("smtp://") || u.expose().starts_with("smtps://"))
        {
            return bad("mail.smtp_url", "an smtp:// or smtps:// URL");
        }
        if let Some(u) = &self.workflow.webhook_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return bad("workflow.webhook_url", "an http:// or https:// URL");
            }
            if self.workflow.webhook_secret.as_ref().is_none_or(|s| s.expose().len() < 16) {
                return bad("workflow.webhook_secret", "a secret of 16 bytes or more is required with a webhook URL");
            }
        }
        if let Some(a) = &self.mail_in.address {
            match a.split_once('@') {
                Some((local, domain))
                    if !local.is_empty()
                        && local.len() <= 15
                        && !local.contains('+')
                        && (domain.contains('.') || domain == "localhost") => {}
                _ => {
                    return bad(
                        "mail_in.address",
                        "an address whose local part has 1 to 15 characters and no '+', e.g. support@example.com",
                    );
                }
            }
        }
        if self.mail_in.category.is_some() != self.mail_in.sub_category.is_some() {
            return bad("mail_in.category", "set mail_in.category and mail_in.sub_category together");
        }
        if self.mail_in.max_message_kib == 0 || self.mail_in.per_sender_per_hour == 0 || self.mail_in.confirm_hours <= 0
        {
            return bad("mail_in", "max_message_kib, per_sender_per_hour and confirm_hours must be positive");
        }
        if self.web.terms_version.is_some() && self.web.terms_url.is_none() && self.web.terms_text.is_none() {
            return bad("web.terms_version", "set web.terms_url or web.terms_text too, so people can read them");
        }
        if let Some(u) = &self.web.terms_url
            && !(u.starts_with("http://") || u.starts_with("https://") || u.starts_with('/'))
        {
            return bad("web.terms_url", "an http:// or https:// URL, or a path");
        }
        if let Err(e) = self.sla.compile() {
            let fields: Vec<String> = e.0.iter().map(|f| format!("sla.{}: {}", f.field, f.message)).collect();
            return Err(ConfigError::Invalid { field: "sla", message: fields.join("; ") });
        }
        let o = &self.outbox;
        if o.max_attempts < 1 || o.base_backoff_secs < 0 || o.max_backoff_secs < o.base_backoff_secs || o.lease_secs < 1
        {
            return bad("outbox", "max_attempts ≥ 1, 0 ≤ base_backoff_secs ≤ max_backoff_secs, lease_secs ≥ 1");
        }
        if o.delivery_timeout_secs < 1 || o.delivery_timeout_secs as i64 >= o.lease_secs {
            return bad("outbox.delivery_timeout_secs", "at least 1 and shorter than lease_secs");
        }
        if self.connections.max < 1 {
            return bad("connections.max", "at least 1");
        }
        if !(1..=3600).contains(&self.connections.header_read_timeout_secs) {
            return bad("connections.header_read_timeout_secs", "between 1 and 3600");
        }
        if self.password_hash.memory_kib < 8 || self.password_hash.iterations < 1 {
            return bad("password_hash", "memory_kib at least 8 and iterations at least 1");
        }
        if self.profile == Profile::Production {
            if self.jwt_secret.is_none() {
                return bad("jwt_secret", "the production profile needs a real secret (32 bytes or more)");
            }
            match self.public_url.as_deref() {
                Some(u) if u.starts_with("https://") && !u.contains("://localhost") && !u.contains("://127.") => {}
                _ => return bad("public_url", "the production profile needs the public https:// URL"),
            }
            if self.mail.smtp_url.is_none() {
                return bad("mail.smtp_url", "the production profile needs an SMTP server");
            }
            let d = Argon2Options::default();
            if self.password_hash.memory_kib < d.memory_kib {
                return bad("password_hash", "the production profile needs at least the default argon2 cost");
            }
        }
        Ok(())
    }

    /// The public URL links are built from.
    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.listen)).trim_end_matches('/').to_owned()
    }

    /// The storage URL (default: sled in the data directory).
    pub fn storage_url(&self) -> String {
        self.storage_url.clone().unwrap_or_else(|| format!("sled:{}", self.data_dir.join("db").display()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn unknown_keys_are_refused_and_secrets_are_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "listen = \"127.0.0.1:9000\"\nlisten_adress = 1\n").unwrap();
        let e = Config::load(Some(&p)).unwrap_err().to_string();
        assert!(e.contains("listen_adress"), "{e}");
        std::fs::write(&p, "jwt_secret = \"0123456789abcdef0123456789abcdef\"\n[bootstrap_admin]\nemail = \"a@b.c\"\npassword = \"hunter2hunter2\"\n").unwrap();
        let c = Config::load(Some(&p)).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("0123456789abcdef") && !shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn production_needs_a_secret_and_a_public_https_url() {
        let mut c = Config { profile: Profile::Production, ..Config::default() };
        assert!(matches!(c.validate(), Err(ConfigError::Invalid { field: "jwt_secret", .. })));
        c.jwt_secret = Some(Secret::new("x".repeat(40)));
        assert!(matches!(c.validate(), Err(ConfigError::Invalid { field: "public_url", .. })));
        c.public_url = Some("https://desk.example.com".into());
        assert!(matches!(c.validate(), Err(ConfigError::Invalid { field: "mail.smtp_url", .. })));
        c.mail.smtp_url = Some(Secret::new("smtp://mail.example.com:587?tls=required"));
        assert!(c.validate().is_ok());
        assert!(Config::default().validate().is_ok(), "development needs nothing");
    }
}
