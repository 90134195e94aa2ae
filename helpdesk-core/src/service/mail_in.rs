//! Mail in: tickets and replies by mail, the one use case behind the MTA pipe, the HTTP route
//! and the IMAP poller.
//!
//! # What happens to a message
//!
//! 1. It is refused whole when larger than [`MailInOptions::max_message_bytes`] or not a mail
//!    message at all (the MTA bounces it to its sender).
//! 2. A message whose identity ([`InboundMessage::key`]) was seen before is answered as a
//!    duplicate and nothing else happens: an MTA's retry or a second poller stores nothing twice.
//! 3. The raw bytes are written to the attachment store (`inbound/<sha256>.eml`) before anything
//!    else, so a message that fails later is still there to be run again.
//! 4. The loop rules ([`crate::mail_in::rules::loop_reason`]) record auto-replies, bulk mail,
//!    mailer daemons, our own messages, and bounces of our own mail (with the failing
//!    recipient) as ignored: the help desk never answers them.
//! 5. A sender past [`MailInOptions::per_sender_per_hour`], or who is not an approved user, is
//!    held and told why (at most one such mail per address an hour).
//! 6. The ticket it answers is the one its signed reply address names, or else the one its
//!    `In-Reply-To`/`References` name among our own Message-IDs. A `[TX0042]` in the subject is
//!    never enough.
//! 7. Its sender must be proven: the reply address given to that very user for that ticket, a
//!    DMARC (or aligned DKIM) pass from a trusted MTA, or the sender's click on a confirmation
//!    link mailed to the From address. An unproven message is held until then.
//! 8. A reply becomes a public comment by its sender (the requester or staff: internal notes
//!    never come from mail), without its quoted history and signature; the whole message is
//!    attached when something was cut. A reply to a closed ticket opens a follow-up ticket.
//!    Anything else opens a ticket in [`MailInOptions::category`].
//! 9. The record, the ticket or comment and its attachments commit together; the record's key
//!    is unique in the store, so of two processes that raced on one message one commits and the
//!    other answers "duplicate".
//!
//! A failure a retry cannot mend (the ticket it answers is gone, a policy refusal) is recorded
//! as `failed` with the reason; admins list held and failed messages and run them again. A
//! failure a retry can mend (the store or the attachment store unavailable) is returned as an
//! error and nothing is recorded, so the MTA (exit 75), the mail service (503) or the poller
//! (the message stays unseen) tries again.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, DurationRound as _, Utc};
use hmac::Mac as _;
use object_store::path::Path;
use object_store::{ObjectStoreExt as _, PutMode, PutOptions, PutPayload};
use sha2::Digest as _;

use super::HelpDesk;
use super::attachments::blob_error;
use super::tickets::Extras;
use crate::domain::{
    AttachmentId, CommentBody, Description, Email, FileName, InboundId, StorageKey, Subject, TicketId, TicketNumber,
    UserStatus,
};
use crate::mail_in::{MailFile, OwnIdentity, ParsedMail, ReplyToken, rules, strip_reply};
use crate::model::{
    ActorRef, Attachment, ConfirmMail, HoldReason, IgnoreReason, InboundChannel, InboundMessage, InboundOutcome,
    Notification, NotificationKind, OutboxMessage, OutboxPayload, SecretToken, Ticket, User,
};
use crate::policy::{Permission, Principal, Resource};
use crate::ports::{UnitOfWork, Versioned};
use crate::{Error, Result};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

const CONFIRM_LABEL: &[u8] = b"helpdesk mail confirmation v1\0";
/// Runs of one message while the ticket it answers changes under it.
const ATTEMPTS: usize = 4;
/// Longest identity kept as is; a longer Message-ID is keyed by its hash.
const MAX_KEY: usize = 400;

/// What [`HelpDesk::ingest_mail`] did with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestReceipt {
    /// The message's record.
    pub id: InboundId,
    /// What became of it.
    pub outcome: InboundOutcome,
    /// True when the message came before and nothing was done this time.
    pub duplicate: bool,
}

impl IngestReceipt {
    fn of(m: &InboundMessage, duplicate: bool) -> Self {
        Self { id: m.id, outcome: m.outcome.clone(), duplicate }
    }
}

/// What to do with a message, decided before anything is written.
#[derive(Debug)]
enum Decision {
    Ignore { reason: IgnoreReason, failed_recipient: Option<String> },
    Hold { reason: HoldReason, tell: bool },
    Fail(String),
    File { user: User, follow_up: Option<TicketNumber> },
    Reply { user: User, ticket: Box<Ticket> },
}

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn truncate_chars(s: &str, max: usize) -> (String, bool) {
    match s.char_indices().nth(max) {
        Some((at, _)) => (s[..at].to_owned(), true),
        None => (s.to_owned(), false),
    }
}

fn confirm_mac(key: &crate::service::LinkKey, claims: &[u8]) -> HmacSha256 {
    let mut m = <HmacSha256 as hmac::Mac>::new_from_slice(key.bytes())
        .unwrap_or_else(|_| <HmacSha256 as hmac::Mac>::new(&Default::default()));
    m.update(CONFIRM_LABEL);
    m.update(claims);
    m
}

fn confirm_claims(id: InboundId, expires_at: i64) -> [u8; 24] {
    let mut c = [0u8; 24];
    c[..16].copy_from_slice(id.as_uuid().as_bytes());
    c[16..].copy_from_slice(&expires_at.to_be_bytes());
    c
}

/// A confirmation token: base64url of the expiry and the MAC of (message id, expiry).
fn sign_confirm(key: &crate::service::LinkKey, id: InboundId, expires_at: DateTime<Utc>) -> String {
    let exp = expires_at.timestamp();
    let tag = confirm_mac(key, &confirm_claims(id, exp)).finalize().into_bytes();
    let mut out = exp.to_be_bytes().to_vec();
    out.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(out)
}

/// The expiry of an authentic token for `id`.
fn verify_confirm(key: &crate::service::LinkKey, id: InboundId, token: &str) -> Option<i64> {
    if token.len() > 64 {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    if raw.len() != 8 + 32 {
        return None;
    }
    let exp = i64::from_be_bytes(raw[..8].try_into().ok()?);
    confirm_mac(key, &confirm_claims(id, exp)).verify_slice(&raw[8..]).ok()?;
    Some(exp)
}

/// Errors a later run may mend by itself: returned to the caller, nothing recorded.
fn transient(e: &Error) -> bool {
    matches!(e, Error::Unavailable(_) | Error::Internal(_) | Error::VersionConflict { .. })
}

impl HelpDesk {
    fn own_identity(&self) -> OwnIdentity {
        let opts = &self.inner.options.mail_in;
        let mut addresses: Vec<String> = opts.own_addresses.iter().map(|a| a.to_ascii_lowercase()).collect();
        addresses.extend(opts.address.iter().map(|a| a.to_ascii_lowercase()));
        OwnIdentity { addresses, message_id_domain: opts.message_id_domain.to_ascii_lowercase() }
    }

    /// Processes one raw RFC 5322 message (see the module documentation for the steps).
    ///
    /// # Errors
    /// `Forbidden` without the `IngestMail` permission; `TooLarge` past the size limit and
    /// `Validation` (field `message`) for something that is not a mail message: the sender
    /// should be told (an MTA bounces it); `Unavailable` when the store or the attachment store
    /// cannot be reached: try again later, nothing was recorded.
    pub async fn ingest_mail(
        &self,
        principal: &Principal,
        raw: &[u8],
        channel: InboundChannel,
    ) -> Result<IngestReceipt> {
        self.require(principal, Permission::IngestMail, &Resource::none())?;
        let opts = &self.inner.options.mail_in;
        if raw.len() as u64 > opts.max_message_bytes {
            return Err(Error::TooLarge("the message exceeds the size limit"));
        }
        let mail = ParsedMail::parse(raw).map_err(|e| Error::field("message", "unreadable", &e.to_string()))?;
        let sha = sha256_hex(raw);
        let key = match &mail.message_id {
            Some(id) if id.len() <= MAX_KEY => format!("mid:{id}"),
            Some(id) => format!("mid-sha256:{}", sha256_hex(id.as_bytes())),
            None => format!("sha256:{sha}"),
        };
        if let Some(seen) = self.inner.store.inbound_by_key(&key).await? {
            return Ok(IngestReceipt::of(&seen, true));
        }
        let raw_path = format!("inbound/{sha}.eml");
        // Content-addressed: a second write of the same message writes the same bytes.
        self.inner
            .blobs
            .put(&Path::from(raw_path.as_str()), PutPayload::from(raw.to_vec()))
            .await
            .map_err(blob_error)?;
        let now = self.now();
        let record = InboundMessage {
            id: InboundId::random(),
            key,
            message_id: mail.message_id.clone(),
            from: truncate_chars(mail.from.as_deref().unwrap_or(""), 320).0,
            subject: truncate_chars(&mail.subject, Subject::MAX_CHARS).0,
            channel,
            raw: raw_path,
            size: raw.len() as u64,
            received_at: now,
            processed_at: now,
            attempts: 1,
            outcome: InboundOutcome::Failed { error: "not processed yet".into() },
            version: 1,
        };
        self.process(&mail, raw, record, None, false).await
    }

    /// Messages that came in by mail, newest first, optionally only those with one outcome
    /// (`ticket`, `comment`, `held`, `ignored`, `failed`), after `before` (paging).
    ///
    /// # Errors
    /// `Forbidden` for anyone but admins.
    pub async fn list_inbound(
        &self,
        principal: &Principal,
        outcome: Option<&'static str>,
        before: Option<(DateTime<Utc>, InboundId)>,
        limit: usize,
    ) -> Result<Vec<InboundMessage>> {
        self.require(principal, Permission::ManageInboundMail, &Resource::none())?;
        Ok(self.inner.store.list_inbound(outcome, before, limit.clamp(1, 500)).await?)
    }

    /// One message's record and its raw bytes.
    ///
    /// # Errors
    /// `Forbidden` for anyone but admins; `NotFound`; `Unavailable` (attachment store).
    pub async fn inbound_message(&self, principal: &Principal, id: InboundId) -> Result<(InboundMessage, Vec<u8>)> {
        self.require(principal, Permission::ManageInboundMail, &Resource::none())?;
        let record = self.inner.store.inbound(id).await?.ok_or(Error::NotFound { what: "inbound message" })?;
        let raw = self.raw_of(&record).await?;
        Ok((record, raw))
    }

    async fn raw_of(&self, record: &InboundMessage) -> Result<Vec<u8>> {
        let got = self.inner.blobs.get(&Path::from(record.raw.as_str())).await.map_err(blob_error)?;
        Ok(got.bytes().await.map_err(blob_error)?.to_vec())
    }

    /// Runs a held or failed message again, as an admin: the rules apply as the first time
    /// (a sender approved since is now accepted), except that an admin's run counts as proof of
    /// the sender.
    ///
    /// # Errors
    /// `Forbidden` for anyone but admins; `NotFound`; `Conflict` when the message was
    /// processed (a ticket, a comment, or ignored).
    pub async fn rerun_inbound(&self, principal: &Principal, id: InboundId) -> Result<IngestReceipt> {
        self.require(principal, Permission::ManageInboundMail, &Resource::none())?;
        let record = self.inner.store.inbound(id).await?.ok_or(Error::NotFound { what: "inbound message" })?;
        if !record.outcome.may_rerun() {
            return Err(Error::Conflict("only held or failed messages can be run again"));
        }
        self.rerun(record, true).await
    }

    /// The held message a confirmation link is for (its subject, for the page that asks the
    /// sender to confirm); checks the link as [`confirm_inbound`](Self::confirm_inbound) does
    /// and processes nothing (mail scanners open links).
    ///
    /// # Errors
    /// As [`confirm_inbound`](Self::confirm_inbound).
    pub async fn confirmation(&self, id: InboundId, token: &str) -> Result<InboundMessage> {
        let key = self.inner.options.mail_in.link_key.as_ref().ok_or(Error::Forbidden("this link is not valid"))?;
        let exp = verify_confirm(key, id, token).ok_or(Error::Forbidden("this link is not valid"))?;
        if self.now().timestamp() > exp {
            return Err(Error::Conflict("this link has expired"));
        }
        let record = self.inner.store.inbound(id).await?.ok_or(Error::Forbidden("this link is not valid"))?;
        if record.outcome != (InboundOutcome::Held { reason: HoldReason::SenderUnproven }) {
            return Err(Error::Conflict("this message was already handled"));
        }
        Ok(record)
    }

    /// Confirms a held message's sender through the link mailed to its From address, and
    /// processes the message. Needs no sign-in: the link is the proof, and it works once (the
    /// message is no longer held afterwards).
    ///
    /// # Errors
    /// `Forbidden` for a link that is not authentic; `Conflict` when it expired or the message
    /// is no longer held.
    pub async fn confirm_inbound(&self, id: InboundId, token: &str) -> Result<IngestReceipt> {
        let record = self.confirmation(id, token).await?;
        self.rerun(record, true).await
    }

    async fn rerun(&self, mut record: InboundMessage, confirmed: bool) -> Result<IngestReceipt> {
        let raw = self.raw_of(&record).await?;
        let mail = ParsedMail::parse(&raw).map_err(|e| Error::field("message", "unreadable", &e.to_string()))?;
        let expected = record.version;
        record.attempts += 1;
        record.processed_at = self.now();
        self.process(&mail, &raw, record, Some(expected), confirmed).await
    }

    /// Decides and writes, retrying while the ticket a reply answers changes under it.
    async fn process(
        &self,
        mail: &ParsedMail,
        raw: &[u8],
        record: InboundMessage,
        expected: Option<u64>,
        confirmed: bool,
    ) -> Result<IngestReceipt> {
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let e = match self.process_once(mail, raw, record.clone(), expected, confirmed).await {
                Ok(receipt) => return Ok(receipt),
                Err(e) => e,
            };
            // Another process recorded the message meanwhile (the key is unique): a duplicate.
            if expected.is_none()
                && let Some(seen) = self.inner.store.inbound_by_key(&record.key).await?
            {
                return Ok(IngestReceipt::of(&seen, true));
            }
            match e {
                Error::VersionConflict { .. } => last = Some(e),
                e if transient(&e) => return Err(e),
                e => {
                    let mut failed = record.clone();
                    failed.outcome = InboundOutcome::Failed { error: e.to_string() };
                    return self.commit_record(failed, expected, Vec::new()).await;
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::Unavailable("the ticket kept changing".into())))
    }

    /// A failed first commit whose message was recorded meanwhile by another process is a
    /// duplicate.
    async fn or_duplicate(
        &self,
        result: Result<IngestReceipt>,
        key: &str,
        expected: Option<u64>,
    ) -> Result<IngestReceipt> {
        match result {
            Err(e) if expected.is_none() => match self.inner.store.inbound_by_key(key).await? {
                Some(seen) => Ok(IngestReceipt::of(&seen, true)),
                None => Err(e),
            },
            other => other,
        }
    }

    async fn process_once(
        &self,
        mail: &ParsedMail,
        raw: &[u8],
        mut record: InboundMessage,
        expected: Option<u64>,
        confirmed: bool,
    ) -> Result<IngestReceipt> {
        match self.decide(mail, confirmed).await? {
            Decision::Ignore { reason, failed_recipient } => {
                let mut uow = UnitOfWork::new();
                if let Some(r) = &failed_recipient {
                    uow.audit.push(self.bounce_entry(mail, r).await?);
                }
                record.outcome = InboundOutcome::Ignored { reason, failed_recipient };
                self.commit_record_with(record, expected, uow).await
            }
            Decision::Fail(error) => {
                record.outcome = InboundOutcome::Failed { error };
                self.commit_record(record, expected, Vec::new()).await
            }
            Decision::Hold { reason, tell } => {
                record.outcome = InboundOutcome::Held { reason };
                let outbox = if tell { self.hold_mail(mail, &record, reason).await? } else { None };
                self.commit_record(record, expected, outbox.into_iter().collect()).await
            }
            Decision::File { user, follow_up } => {
                self.mail_ticket(mail, &user, follow_up, Versioned { value: record, expected }).await
            }
            Decision::Reply { user, ticket } => {
                self.mail_comment(mail, raw, &user, &ticket, Versioned { value: record, expected }).await
            }
        }
    }

    async fn commit_record(
        &self,
        record: InboundMessage,
        expected: Option<u64>,
        outbox: Vec<OutboxMessage>,
    ) -> Result<IngestReceipt> {
        self.commit_record_with(record, expected, UnitOfWork { outbox, ..UnitOfWork::new() }).await
    }

    /// The audit entry that marks a bounced mail's recipient as failing: about the user whose
    /// address it is (their page lists it), naming our message the report returned.
    async fn bounce_entry(&self, mail: &ParsedMail, recipient: &str) -> Result<crate::model::AuditEntry> {
        let email = Email::parse(recipient).ok();
        let user = match &email {
            Some(e) => self.inner.store.user_by_email(e).await?,
            None => None,
        };
        let masked = email.as_ref().map_or_else(|| "an address".to_owned(), Email::masked);
        let ours = mail.report.as_ref().and_then(|r| r.original_message_id.clone()).unwrap_or_default();
        tracing::warn!(recipient = %masked, message = %ours, "a mail of ours bounced");
        Ok(super::audit_entry(
            self.now(),
            None,
            crate::model::AuditKind::MailBounced,
            Some(user.map_or_else(|| masked.clone(), |u| u.id.to_string())),
            None,
            format!("mail <{ours}> to {masked} bounced: the address is failing"),
        ))
    }

    async fn commit_record_with(
        &self,
        record: InboundMessage,
        expected: Option<u64>,
        mut uow: UnitOfWork,
    ) -> Result<IngestReceipt> {
        let receipt = IngestReceipt::of(&record, false);
        let key = record.key.clone();
        uow.inbound.push(Versioned { value: record, expected });
        let done = self.commit(uow).await.map(|_| receipt).map_err(Error::from);
        self.or_duplicate(done, &key, expected).await
    }

    async fn decide(&self, mail: &ParsedMail, confirmed: bool) -> Result<Decision> {
        let opts = &self.inner.options.mail_in;
        if let Some(reason) = rules::loop_reason(mail, &self.own_identity()) {
            let failed_recipient = (reason == IgnoreReason::Bounce)
                .then(|| mail.report.as_ref().and_then(|r| r.failed_recipients.first().cloned()))
                .flatten();
            return Ok(Decision::Ignore { reason, failed_recipient });
        }
        let Some(from) = mail.from.as_deref() else {
            return Ok(Decision::Fail("the message has no From address".into()));
        };
        let Ok(email) = Email::parse(from) else {
            return Ok(Decision::Fail("the From address is not valid".into()));
        };
        let hour = self.now().duration_trunc(Duration::hours(1)).unwrap_or_else(|_| self.now());
        let count = self.inner.store.hit_window(&format!("mail-in:{}", email.as_str()), hour).await?;
        if count > opts.per_sender_per_hour {
            return Ok(Decision::Hold { reason: HoldReason::TooMany, tell: true });
        }
        let user = self.inner.store.user_by_email(&email).await?.filter(|u| u.status == UserStatus::Approved);
        let Some(user) = user else {
            return Ok(Decision::Hold { reason: HoldReason::UnknownSender, tell: true });
        };
        let vouched = confirmed || rules::sender_authenticated(mail, &opts.trusted_authserv_ids);
        let token = match (&opts.address, &opts.link_key) {
            (Some(address), Some(key)) => mail
                .recipients
                .iter()
                .filter_map(|r| ReplyToken::token_in(r, address))
                .find_map(|t| ReplyToken::verify(key, t)),
            _ => None,
        };
        let number = match token {
            Some(t) => Some(TicketNumber::new(&self.inner.options.ticket_number_format, t.ticket_seq)),
            None => self.referenced_ticket(mail).await?,
        };
        let Some(number) = number else {
            return Ok(if vouched {
                Decision::File { user, follow_up: None }
            } else {
                Decision::Hold { reason: HoldReason::SenderUnproven, tell: true }
            });
        };
        let Some(ticket) = self.inner.store.ticket_by_number(&number).await? else {
            return Ok(Decision::Fail(format!("the ticket it answers, {number}, does not exist")));
        };
        let proven = vouched || token.is_some_and(|t| t.user == user.id && t.ticket_seq == number.seq());
        if !proven {
            return Ok(Decision::Hold { reason: HoldReason::SenderUnproven, tell: true });
        }
        let staff = user.role.is_staff();
        if user.id != ticket.requester && !staff {
            return Ok(Decision::Hold { reason: HoldReason::NotAParticipant, tell: true });
        }
        if ticket.status.is_terminal() && !staff {
            return Ok(Decision::File { user, follow_up: Some(ticket.number.clone()) });
        }
        Ok(Decision::Reply { user, ticket: Box::new(ticket) })
    }

    /// The ticket a message's `In-Reply-To`/`References` name among our own Message-IDs: a
    /// thread root (`ticket.TX0042@domain`) or a mail we sent about a ticket (`<id>@domain`).
    async fn referenced_ticket(&self, mail: &ParsedMail) -> Result<Option<TicketNumber>> {
        let own = self.own_identity();
        for r in mail.references.iter().rev().filter(|r| own.is_own_message_id(r)) {
            let local = r.rsplit_once('@').map_or(r.as_str(), |(l, _)| l);
            if let Some(n) = local.strip_prefix("ticket.") {
                if let Ok(n) = TicketNumber::parse(&n.to_ascii_uppercase()) {
                    return Ok(Some(n));
                }
            } else if let Ok(id) = local.parse::<crate::domain::MessageId>()
                && let Some(rec) = self.inner.store.outbox_message(id).await?
                && let OutboxPayload::Mail(n) = &rec.message.payload
                && let Some(t) = n.kind.ticket()
                && let Ok(n) = TicketNumber::parse(&t.number)
            {
                return Ok(Some(n));
            }
        }
        Ok(None)
    }

    /// The mail telling a held message's sender why, at most one per address an hour; with a
    /// confirmation link when confirming would release it.
    async fn hold_mail(
        &self,
        mail: &ParsedMail,
        record: &InboundMessage,
        reason: HoldReason,
    ) -> Result<Option<OutboxMessage>> {
        let Some(to) = mail.from.as_deref().and_then(|f| Email::parse(f).ok()) else { return Ok(None) };
        let now = self.now();
        let hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
        if self.inner.store.hit_window(&format!("mail-held:{}", to.as_str()), hour).await? > 1 {
            return Ok(None);
        }
        let opts = &self.inner.options.mail_in;
        let confirm = match (reason, &opts.link_key) {
            (HoldReason::SenderUnproven, Some(key)) => {
                let expires_at = now + opts.confirm_ttl;
                Some(ConfirmMail {
                    id: record.id,
                    token: SecretToken::new(sign_confirm(key, record.id, expires_at)),
                    expires_at,
                })
            }
            _ => None,
        };
        Ok(Some(OutboxMessage {
            id: crate::domain::MessageId::random(),
            created_at: now,
            payload: OutboxPayload::Mail(Notification {
                to,
                to_name: mail.from_name.clone().unwrap_or_default(),
                language: self.inner.options.language.clone(),
                reply_to: None,
                kind: NotificationKind::MailHeld {
                    subject: record.subject.clone(),
                    reason: reason.explain().to_owned(),
                    confirm,
                },
            }),
        }))
    }

    /// Opens a ticket from a message.
    async fn mail_ticket(
        &self,
        mail: &ParsedMail,
        user: &User,
        follow_up: Option<TicketNumber>,
        record: Versioned<InboundMessage>,
    ) -> Result<IngestReceipt> {
        let catalog = &self.inner.options.catalog;
        let (category, sub_category) = match &self.inner.options.mail_in.category {
            Some(c) => c.clone(),
            None => catalog
                .categories
                .first()
                .and_then(|c| Some((c.key.to_string(), c.sub_categories.first()?.key.to_string())))
                .ok_or_else(|| Error::Internal("the catalogue has no category for mail".into()))?,
        };
        let subject = match mail.subject.trim() {
            "" => "(no subject)".to_owned(),
            s => truncate_chars(s, Subject::MAX_CHARS).0,
        };
        let ticket_id = TicketId::random();
        let (files, skipped) = self.stage_files(ticket_id, &mail.files, None, user, &[]).await?;
        let mut description = String::new();
        if let Some(n) = &follow_up {
            description.push_str(&format!("Follow-up to {n}, which is closed.\n\n"));
        }
        description.push_str(match mail.text.trim() {
            "" => "(the message had no text)",
            t => t,
        });
        description.push_str(&skipped_note(&skipped));
        let (description, _) = truncate_chars(&description, Description::MAX_CHARS);
        let input = super::NewTicket { subject, category, sub_category, description, ..Default::default() };
        let staged: Vec<Path> = files.iter().map(|a| a.key.to_path()).collect();
        let mut receipt_record = record.value.clone();
        let extras = Extras { ticket_id: Some(ticket_id), files, inbound: Some(record) };
        match self.file_ticket_with(&Principal::of_user(user), input, None, extras).await {
            Ok(filed) => {
                receipt_record.outcome = InboundOutcome::Ticket { number: filed.ticket.number };
                Ok(IngestReceipt::of(&receipt_record, false))
            }
            Err(e) => {
                self.delete_blobs(&staged).await;
                Err(e)
            }
        }
    }

    /// Adds a reply as a public comment.
    async fn mail_comment(
        &self,
        mail: &ParsedMail,
        raw: &[u8],
        user: &User,
        ticket: &Ticket,
        record: Versioned<InboundMessage>,
    ) -> Result<IngestReceipt> {
        let (text, cut) = strip_reply(&mail.text);
        let text = if text.trim().is_empty() { "(the reply had no text)".to_owned() } else { text };
        let existing = self.inner.store.attachments(ticket.id).await?;
        let original =
            cut.then(|| MailFile { file_name: "original-message.eml".into(), bytes: raw.to_vec(), inline: false });
        let (files, skipped) = self.stage_files(ticket.id, &mail.files, original, user, &existing).await?;
        let body = format!("{text}{}", skipped_note(&skipped));
        let (body, _) = truncate_chars(&body, CommentBody::MAX_CHARS);
        let staged: Vec<Path> = files.iter().map(|a| a.key.to_path()).collect();
        let mut receipt_record = record.value.clone();
        receipt_record.outcome = InboundOutcome::Comment { number: ticket.number.clone() };
        let extras = Extras { ticket_id: None, files, inbound: Some(record) };
        match self.add_comment_with(&Principal::of_user(user), &ticket.number, &body, false, extras).await {
            Ok(_) => Ok(IngestReceipt::of(&receipt_record, false)),
            Err(e) => {
                self.delete_blobs(&staged).await;
                Err(e)
            }
        }
    }

    async fn delete_blobs(&self, paths: &[Path]) {
        for p in paths {
            if let Err(e) = self.inner.blobs.delete(p).await {
                tracing::warn!(error = %e, "could not delete a staged mail attachment; the sweeper will");
            }
        }
    }

    /// Writes a message's files to the attachment store under the limits, sniffing and
    /// sanitising of uploads (SPEC §5); answers the attachments (their ticket and comment are
    /// filled in at commit) and, for each file left out, its name and why. `original` (the
    /// whole message, when the reply was cut) is kept as `message/rfc822` whatever the allow
    /// list says: it is the help desk's own record of what was sent.
    async fn stage_files(
        &self,
        ticket: TicketId,
        files: &[MailFile],
        original: Option<MailFile>,
        user: &User,
        existing: &[Attachment],
    ) -> Result<(Vec<Attachment>, Vec<(String, &'static str)>)> {
        let limits = &self.inner.options.attachments;
        let mut count = existing.len();
        let mut used: u64 = existing.iter().map(|a| a.size).sum();
        let mut out = Vec::new();
        let mut skipped = Vec::new();
        let now = self.now();
        let all = files.iter().map(|f| (f, false)).chain(original.iter().map(|f| (f, true)));
        for (f, is_original) in all {
            let file_name = FileName::sanitize(&f.file_name);
            let size = f.bytes.len() as u64;
            let refusal = if size == 0 {
                Some("empty")
            } else if count >= limits.max_files_per_ticket {
                Some("too many files on the ticket")
            } else if size > limits.max_file_bytes {
                Some("larger than the size limit")
            } else if used + size > limits.max_bytes_per_ticket {
                Some("the ticket's attachment limit is reached")
            } else {
                None
            };
            let content_type = if is_original {
                "message/rfc822".to_owned()
            } else {
                let head = &f.bytes[..f.bytes.len().min(8192)];
                let text = if infer::get(head).is_none() {
                    std::str::from_utf8(&f.bytes).ok().filter(|s| !s.contains('\0'))
                } else {
                    None
                };
                super::sniff_content_type(head, text, &file_name)
            };
            let refusal = refusal.or_else(|| {
                (!is_original && !limits.allowed_types.iter().any(|a| a == &content_type))
                    .then_some("type not accepted")
            });
            if let Some(why) = refusal {
                if size > 0 {
                    skipped.push((file_name.to_string(), why));
                }
                continue;
            }
            let id = AttachmentId::random();
            let key = StorageKey::for_attachment(ticket, id);
            let opts = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
            if let Err(e) = self.inner.blobs.put_opts(&key.to_path(), PutPayload::from(f.bytes.clone()), opts).await {
                let paths: Vec<Path> = out.iter().map(|a: &Attachment| a.key.to_path()).collect();
                self.delete_blobs(&paths).await;
                return Err(blob_error(e));
            }
            count += 1;
            used += size;
            out.push(Attachment {
                id,
                ticket,
                comment: None,
                internal: false,
                file_name,
                content_type,
                size,
                sha256: sha256_hex(&f.bytes),
                key,
                uploaded_by: ActorRef::User { id: user.id },
                created_at: now,
            });
        }
        Ok((out, skipped))
    }
}

fn skipped_note(skipped: &[(String, &'static str)]) -> String {
    if skipped.is_empty() {
        return String::new();
    }
    let list: Vec<String> = skipped.iter().map(|(n, why)| format!("{n} ({why})")).collect();
    format!("\n\n[Not attached: {}. The whole message is kept by the help desk.]", list.join(", "))
}
