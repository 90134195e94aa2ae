//! The IMAP poller of mail in (`[mail_in.imap]`): fetches new messages from a mailbox and hands
//! each to [`HelpDesk::ingest_mail`], the use case behind the MTA pipe and the HTTP route.
//!
//! # Never lost, never doubled
//!
//! A message is fetched with `BODY.PEEK[]` (which leaves its flags alone) and marked (`\Seen
//! $HelpdeskStored`) or moved only after the help desk has recorded it. A crash between the two
//! leaves it unmarked: the next round fetches it again and the help desk answers "duplicate"
//! (its record is keyed by Message-ID, unique in the store), so it is marked then and nothing
//! is written twice. Several server processes may poll one mailbox for the same reason: they
//! race on a message, one records it, the others get "duplicate". A message the help desk
//! refuses for good (too large, not a mail message) is marked `$HelpdeskRefused` and stays in
//! the mailbox for a person to look at; one it cannot take now (the store or the attachment
//! store down) is left unmarked for the next round.
//!
//! Racing is safe but wasteful (the loser has done the work for nothing, and taken a ticket
//! number it then leaves unused), so before fetching a message a poller claims it through the
//! store's shared counters (`hit_window`, what every process sees) for the current window of
//! `claim_secs` (five minutes; windows start at multiples of it, so a claim lasts to the end of
//! its window, at most `claim_secs`): a message another process claimed in the current window
//! is left to it. A message its claimer could not store (it died, or the store was down) waits
//! for the window to end; then anyone takes it.
//!
//! # Waiting
//!
//! Between rounds the poller waits in `IDLE` when the server offers it (woken as soon as mail
//! arrives) and sleeps otherwise, `poll_secs` at most either way. A lost connection is retried
//! with back-off up to five minutes.

use std::sync::Arc;
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use futures::TryStreamExt as _;
use helpdesk_core::model::InboundChannel;
use helpdesk_core::policy::Principal;
use helpdesk_core::{Error, HelpDesk};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::config::ImapConfig;

/// The keyword of messages the help desk recorded.
pub const STORED: &str = "$HelpdeskStored";
/// The keyword of messages the help desk refused for good.
pub const REFUSED: &str = "$HelpdeskRefused";

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Messages recorded now (a ticket, a comment, held, ignored or failed).
    pub recorded: usize,
    /// Messages the help desk had recorded before (a retry after a crash, another poller).
    pub duplicates: usize,
    /// Messages refused for good, marked `$HelpdeskRefused`.
    pub refused: usize,
    /// Messages left for the next round (the help desk could not take them now).
    pub deferred: usize,
    /// Messages another process claimed first, left to it.
    pub claimed_elsewhere: usize,
}

/// Claims `uid` for this process; false when another process claimed it in this window.
async fn claim(desk: &HelpDesk, cfg: &ImapConfig, validity: u32, uid: u32) -> Result<bool, BoxError> {
    let now = chrono::Utc::now();
    let secs = i64::try_from(cfg.claim_secs.max(1)).unwrap_or(300);
    let window = chrono::DateTime::from_timestamp(now.timestamp() - now.timestamp().rem_euclid(secs), 0).unwrap_or(now);
    let key = format!("imap-claim:{}:{}:{}:{validity}:{uid}", cfg.host, cfg.username, cfg.mailbox);
    Ok(desk.store().hit_window(&key, window).await? == 1)
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

trait Stream: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send> Stream for T {}

type Session = async_imap::Session<Box<dyn Stream>>;

/// A signed-in session on the selected mailbox, with the mailbox's UIDVALIDITY (UIDs are
/// claimed within it).
struct Mailbox {
    session: Session,
    validity: u32,
}

/// Connects, signs in and selects the mailbox.
async fn connect(cfg: &ImapConfig) -> Result<Mailbox, BoxError> {
    let tcp = tokio::time::timeout(Duration::from_secs(20), TcpStream::connect((cfg.host.as_str(), cfg.port())))
        .await
        .map_err(|_| format!("connecting to {}:{} timed out", cfg.host, cfg.port()))??;
    let stream: Box<dyn Stream> = if cfg.tls {
        let mut roots = tokio_rustls::rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let tls = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(cfg.host.clone())?;
        Box::new(tokio_rustls::TlsConnector::from(Arc::new(tls)).connect(name, tcp).await?)
    } else {
        Box::new(tcp)
    };
    let mut client = async_imap::Client::new(stream);
    client.read_response().await?.ok_or("the IMAP server closed the connection before its greeting")?;
    let mut session =
        client.login(&cfg.username, cfg.password.expose()).await.map_err(|(e, _)| format!("IMAP login: {e}"))?;
    let selected = session.select(&cfg.mailbox).await?;
    Ok(Mailbox { session, validity: selected.uid_validity.unwrap_or(0) })
}

/// Marks (or moves) one message.
async fn mark(session: &mut Session, cfg: &ImapConfig, uid: u32, keyword: &str) -> Result<(), BoxError> {
    match (&cfg.move_to, keyword) {
        (Some(to), STORED) => session.uid_mv(uid.to_string(), to).await?,
        _ => {
            let _: Vec<_> = session
                .uid_store(uid.to_string(), format!("+FLAGS.SILENT (\\Seen {keyword})"))
                .await?
                .try_collect()
                .await?;
        }
    }
    Ok(())
}

/// One round: every message not marked yet, oldest first.
///
/// # Errors
/// The IMAP connection failed (the caller reconnects).
async fn round(mailbox: &mut Mailbox, cfg: &ImapConfig, desk: &HelpDesk) -> Result<Round, BoxError> {
    let (session, validity) = (&mut mailbox.session, mailbox.validity);
    let mut uids: Vec<u32> =
        session.uid_search(format!("UNKEYWORD {STORED} UNKEYWORD {REFUSED}")).await?.into_iter().collect();
    uids.sort_unstable();
    let mut done = Round::default();
    for uid in uids {
        if !claim(desk, cfg, validity, uid).await? {
            done.claimed_elsewhere += 1;
            continue;
        }
        let fetched: Vec<_> = session.uid_fetch(uid.to_string(), "BODY.PEEK[]").await?.try_collect().await?;
        let Some(raw) = fetched.iter().find_map(|f| f.body()) else { continue };
        match desk.ingest_mail(&Principal::System, raw, InboundChannel::Imap).await {
            Ok(r) => {
                mark(session, cfg, uid, STORED).await?;
                if r.duplicate {
                    done.duplicates += 1;
                } else {
                    done.recorded += 1;
                }
            }
            Err(e @ (Error::TooLarge(_) | Error::Validation(_))) => {
                tracing::warn!(uid, error = %e, "mail in: the help desk refused a message; it stays in the mailbox, marked {REFUSED}");
                mark(session, cfg, uid, REFUSED).await?;
                done.refused += 1;
            }
            Err(e) => {
                tracing::warn!(uid, error = %e, "mail in: a message could not be taken now; next round");
                done.deferred += 1;
            }
        }
    }
    Ok(done)
}

/// Connects, runs one round and signs out: for tests and one-off runs.
///
/// # Errors
/// The IMAP server cannot be reached or refuses the sign-in.
pub async fn poll_once(cfg: &ImapConfig, desk: &HelpDesk) -> Result<Round, BoxError> {
    let mut mailbox = connect(cfg).await?;
    let r = round(&mut mailbox, cfg, desk).await?;
    let _ = mailbox.session.logout().await;
    Ok(r)
}

/// Waits for news (`IDLE`, when offered) or `poll_secs`, whichever comes first; answers the
/// session to go on with.
async fn wait(session: Session, idle: bool, cfg: &ImapConfig, stop: &CancellationToken) -> Result<Session, BoxError> {
    let dur = Duration::from_secs(cfg.poll_secs.max(1));
    if !idle {
        tokio::select! {
            () = tokio::time::sleep(dur) => {},
            () = stop.cancelled() => {},
        }
        return Ok(session);
    }
    let mut handle = session.idle();
    handle.init().await?;
    let (news, interrupt) = handle.wait_with_timeout(dur);
    let outcome = tokio::select! {
        r = news => Some(r),
        () = stop.cancelled() => None,
    };
    drop(interrupt);
    if let Some(Err(e)) = outcome {
        return Err(e.into());
    }
    if let Some(Ok(IdleResponse::NewData(_))) = outcome {
        tracing::debug!("mail in: the mailbox changed");
    }
    Ok(handle.done().await?)
}

/// Polls `cfg`'s mailbox until `stop` is cancelled.
pub async fn run(cfg: ImapConfig, desk: HelpDesk, stop: CancellationToken) {
    let mut backoff = Duration::from_secs(1);
    while !stop.is_cancelled() {
        let result: Result<(), BoxError> = async {
            let mut mailbox = connect(&cfg).await?;
            let idle = mailbox.session.capabilities().await?.has_str("IDLE");
            tracing::info!(host = %cfg.host, mailbox = %cfg.mailbox, idle, "mail in: polling the IMAP mailbox");
            loop {
                let r = round(&mut mailbox, &cfg, &desk).await?;
                if r != Round::default() {
                    tracing::info!(
                        recorded = r.recorded,
                        duplicates = r.duplicates,
                        refused = r.refused,
                        deferred = r.deferred,
                        claimed_elsewhere = r.claimed_elsewhere,
                        "mail in: IMAP round"
                    );
                }
                backoff = Duration::from_secs(1);
                if stop.is_cancelled() {
                    let _ = mailbox.session.logout().await;
                    return Ok(());
                }
                mailbox.session = wait(mailbox.session, idle, &cfg, &stop).await?;
            }
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, retry_in_secs = backoff.as_secs(), "mail in: IMAP connection failed");
            tokio::select! {
                () = tokio::time::sleep(backoff) => {},
                () = stop.cancelled() => {},
            }
            backoff = (backoff * 2).min(Duration::from_secs(300));
        }
    }
}
