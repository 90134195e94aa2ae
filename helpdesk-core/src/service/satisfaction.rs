//! Customer satisfaction (CSAT): the requester rates a resolved ticket good or bad, with an
//! optional comment, through a link in the resolution mail that needs no sign-in.
//!
//! # The link
//!
//! `/rate/<number>/<token>`, where the token is base64url of the claims (ticket id, requester
//! id, expiry, link number) followed by their HMAC-SHA256 under
//! [`SatisfactionOptions::link_key`](super::options::SatisfactionOptions): nothing is stored
//! when a mail goes out, and no claim can be changed without the key. It works only:
//! - for the ticket the URL names and the claims name (another ticket's link is refused);
//! - until its expiry (the resolution plus `link_ttl`, 14 days by default);
//! - while the ticket is resolved or closed (a reopened ticket is being worked on again);
//! - once: the ticket counts its ratings ([`Satisfaction::ratings`]) and a link is valid only
//!   while its number equals that count. Rating answers a fresh link (the next number, the same
//!   expiry), so the requester can change their mind until the expiry, and a used link, however
//!   it leaks, is dead.
//!
//! Opening a link never records anything (mail scanners follow links); recording is a `POST`.
//! The rating is stored on the ticket, in history as a staff-only event with the comment as
//! its note, through the ordinary unit of work (so a stale version retries, and two uses of one
//! link record one rating).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::Mac as _;
use serde::Serialize;

use super::HelpDesk;
use super::options::LinkKey;
use crate::domain::{EventId, Note, Subject, TicketId, TicketNumber, TicketStatus, UserId};
use crate::error::RatingLinkRefusal;
use crate::model::{ActorRef, EventKind, FieldChange, HistoryEvent, Rating, Satisfaction, SecretToken, Ticket};
use crate::policy::{Permission, Principal, Resource};
use crate::ports::{StoreError, UnitOfWork, Versioned};
use crate::report::ReportRange;
use crate::{Error, Result, ValidationErrors};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Writes a rating tries while the ticket changes under it (each retry checks the link again).
const RATING_ATTEMPTS: usize = 5;

/// What a rating link says, signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LinkClaims {
    ticket: TicketId,
    requester: UserId,
    expires_at: i64,
    number: u32,
}

const CLAIMS_LEN: usize = 16 + 16 + 8 + 4;
const MAC_LEN: usize = 32;
const LINK_LABEL: &[u8] = b"helpdesk rating link v1\0";

impl LinkClaims {
    fn bytes(&self) -> [u8; CLAIMS_LEN] {
        let mut b = [0u8; CLAIMS_LEN];
        b[..16].copy_from_slice(self.ticket.as_uuid().as_bytes());
        b[16..32].copy_from_slice(self.requester.as_uuid().as_bytes());
        b[32..40].copy_from_slice(&self.expires_at.to_be_bytes());
        b[40..].copy_from_slice(&self.number.to_be_bytes());
        b
    }

    fn mac(key: &LinkKey, claims: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length, so keying cannot fail; an empty-keyed MAC would only
        // make every link invalid.
        let mut m = <HmacSha256 as hmac::Mac>::new_from_slice(key.bytes())
            .unwrap_or_else(|_| <HmacSha256 as hmac::Mac>::new(&Default::default()));
        m.update(LINK_LABEL);
        m.update(claims);
        m
    }

    fn sign(&self, key: &LinkKey) -> String {
        let claims = self.bytes();
        let tag = Self::mac(key, &claims).finalize().into_bytes();
        let mut out = Vec::with_capacity(CLAIMS_LEN + MAC_LEN);
        out.extend_from_slice(&claims);
        out.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// The claims of an authentic token (the MAC compared in constant time).
    fn verify(key: &LinkKey, token: &str) -> Option<Self> {
        if token.len() > 2 * (CLAIMS_LEN + MAC_LEN) {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
        if raw.len() != CLAIMS_LEN + MAC_LEN {
            return None;
        }
        let (claims, tag) = raw.split_at(CLAIMS_LEN);
        Self::mac(key, claims).verify_slice(tag).ok()?;
        let uuid = |b: &[u8]| uuid::Uuid::from_slice(b).ok();
        Some(Self {
            ticket: TicketId::from_uuid(uuid(&claims[..16])?),
            requester: UserId::from_uuid(uuid(&claims[16..32])?),
            expires_at: i64::from_be_bytes(claims[32..40].try_into().ok()?),
            number: u32::from_be_bytes(claims[40..].try_into().ok()?),
        })
    }
}

/// A rating link as a mail carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingLink {
    /// The token, for `/rate/<number>/<token>`.
    pub token: SecretToken,
    /// Until when it works.
    pub expires_at: DateTime<Utc>,
}

/// What the page behind a rating link shows: the ticket it rates and the rating so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RatingInvite {
    /// The ticket.
    pub number: TicketNumber,
    /// Its subject.
    pub subject: Subject,
    /// The rating given so far, if any (the link holder is the one who gave it).
    pub current: Option<Satisfaction>,
    /// Until when the rating can be given or changed.
    pub expires_at: DateTime<Utc>,
}

/// A recorded rating, with the link that changes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingReceipt {
    /// The ticket and its rating now.
    pub invite: RatingInvite,
    /// The fresh link (the one used is spent).
    pub next: RatingLink,
}

impl HelpDesk {
    /// The rating link for the mail that tells `ticket`'s requester it was resolved: `None`
    /// when the deployment has no link key (nobody is asked).
    pub(crate) fn rating_link(&self, ticket: &Ticket, now: DateTime<Utc>) -> Option<RatingLink> {
        let key = self.inner.options.satisfaction.link_key.as_ref()?;
        let expires_at = now + self.inner.options.satisfaction.link_ttl;
        Some(self.sign_link(key, ticket, expires_at))
    }

    fn sign_link(&self, key: &LinkKey, ticket: &Ticket, expires_at: DateTime<Utc>) -> RatingLink {
        let claims = LinkClaims {
            ticket: ticket.id,
            requester: ticket.requester,
            expires_at: expires_at.timestamp(),
            number: ticket.satisfaction.as_ref().map_or(0, |s| s.ratings),
        };
        RatingLink { token: SecretToken::new(claims.sign(key)), expires_at }
    }

    /// The ticket `token` rates, checked as a rating would check it.
    async fn rated_ticket(&self, number: &TicketNumber, token: &str) -> Result<(Ticket, LinkClaims)> {
        use RatingLinkRefusal::{Expired, Invalid, Reopened, Used};
        let refuse = |why| Err(Error::RatingLink(why));
        let key = self.inner.options.satisfaction.link_key.as_ref();
        let Some(claims) = key.and_then(|key| LinkClaims::verify(key, token)) else { return refuse(Invalid) };
        let Some(ticket) = self.inner.store.ticket_by_number(number).await? else { return refuse(Invalid) };
        if ticket.id != claims.ticket || ticket.requester != claims.requester {
            return refuse(Invalid);
        }
        if self.now().timestamp() >= claims.expires_at {
            return refuse(Expired);
        }
        if !matches!(ticket.status, TicketStatus::Resolved | TicketStatus::Closed) {
            return refuse(Reopened);
        }
        let count = ticket.satisfaction.as_ref().map_or(0, |s| s.ratings);
        if claims.number != count {
            // An older number was spent; a newer one was never handed out.
            return refuse(if claims.number < count { Used } else { Invalid });
        }
        Ok((ticket, claims))
    }

    /// What the page behind a rating link shows. Records nothing (mail scanners open links).
    ///
    /// # Errors
    /// [`Error::RatingLink`] naming why the link cannot be used; store failures.
    pub async fn rating_invite(&self, number: &TicketNumber, token: &str) -> Result<RatingInvite> {
        let (ticket, claims) = self.rated_ticket(number, token).await?;
        Ok(invite(ticket, claims))
    }

    /// Records the requester's rating of `number` through the link `token` (`rating` is
    /// `good` or `bad`; an empty comment is none), replacing an earlier one, and answers the
    /// fresh link that changes it.
    ///
    /// # Errors
    /// [`Error::Validation`] naming `rating` or `comment`; [`Error::RatingLink`] naming why the
    /// link cannot be used (a second use of one link is `Used`); store failures.
    pub async fn rate_ticket(
        &self,
        number: &TicketNumber,
        token: &str,
        rating: &str,
        comment: Option<&str>,
    ) -> Result<RatingReceipt> {
        let mut errs = ValidationErrors::new();
        let rating = errs.check(Rating::parse_field("rating", rating.trim()));
        let comment = match comment.map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => errs.check(Note::parse_field("comment", c)).map(Some),
            None => Some(None),
        };
        // The link is checked before the input, so a dead link says so whatever was typed.
        let (mut ticket, mut claims) = self.rated_ticket(number, token).await?;
        errs.into_result()?;
        let (Some(rating), Some(comment)) = (rating, comment) else {
            return Err(Error::Internal("validated input missing".into()));
        };
        let key =
            self.inner.options.satisfaction.link_key.clone().ok_or(Error::RatingLink(RatingLinkRefusal::Invalid))?;
        for _ in 0..RATING_ATTEMPTS {
            let now = self.now();
            let old = ticket.satisfaction.clone();
            let count = claims.number + 1;
            let mut next = ticket.clone();
            next.satisfaction = Some(Satisfaction { rating, comment: comment.clone(), rated_at: now, ratings: count });
            next.updated_at = now;
            next.version = ticket.version + 1;
            let mut uow = UnitOfWork::new();
            uow.events.push(HistoryEvent {
                id: EventId::random(),
                ticket: ticket.id,
                at: now,
                actor: ActorRef::User { id: ticket.requester },
                kind: EventKind::Rated { rating },
                changes: vec![FieldChange::new(
                    "satisfaction",
                    old.map(|s| s.rating.to_string()),
                    Some(rating.to_string()),
                )],
                note: comment.as_ref().map(ToString::to_string),
                internal: true,
                version: next.version,
                by_macro: None,
            });
            uow.tickets.push(Versioned::update(next, ticket.version));
            match self.commit(uow).await {
                Ok(mut written) if !written.is_empty() => {
                    let stored = written.swap_remove(0);
                    let expires_at = DateTime::from_timestamp(claims.expires_at, 0).unwrap_or(now);
                    let next = self.sign_link(&key, &stored, expires_at);
                    return Ok(RatingReceipt { invite: invite(stored, claims), next });
                }
                Ok(_) => return Err(Error::Internal("a rating wrote no ticket".into())),
                // Changed meanwhile (a comment, or this very link used at the same moment):
                // check the link again against the ticket as it is now.
                Err(StoreError::VersionMismatch { .. }) => {
                    (ticket, claims) = self.rated_ticket(number, token).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict("the ticket kept changing; send the rating again"))
    }
}

fn invite(ticket: Ticket, claims: LinkClaims) -> RatingInvite {
    RatingInvite {
        number: ticket.number,
        subject: ticket.subject,
        current: ticket.satisfaction,
        expires_at: DateTime::from_timestamp(claims.expires_at, 0).unwrap_or_default(),
    }
}

/// Good and bad ratings, and the score.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SatisfactionTally {
    /// Rated good.
    pub good: u64,
    /// Rated bad.
    pub bad: u64,
    /// Good per thousand ratings (good / (good + bad)); `None` before any rating.
    pub score_per_mille: Option<u64>,
}

impl SatisfactionTally {
    fn add(&mut self, rating: Rating) {
        match rating {
            Rating::Good => self.good += 1,
            Rating::Bad => self.bad += 1,
        }
        self.score_per_mille = Some(self.good * 1000 / (self.good + self.bad));
    }
}

/// One rating, as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RatedTicket {
    /// The ticket.
    pub number: TicketNumber,
    /// Its assignee.
    pub assignee: Option<UserId>,
    /// Its department.
    pub department: Option<String>,
    /// The rating.
    pub rating: Rating,
    /// The requester's comment.
    pub comment: Option<String>,
    /// When it was given.
    pub rated_at: DateTime<Utc>,
}

/// Satisfaction of the tickets filed in a range (the population of the other reports): the
/// score with its counts overall, by department and by assignee, and the latest ratings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SatisfactionReport {
    /// Start of the range (inclusive).
    pub from: DateTime<Utc>,
    /// End of the range (exclusive).
    pub to: DateTime<Utc>,
    /// Tickets filed in the range that were resolved (asked to rate) at least once.
    pub resolved: u64,
    /// All ratings.
    pub overall: SatisfactionTally,
    /// Rated tickets per hundred resolved ones; `None` before any was resolved.
    pub response_percent: Option<u64>,
    /// By department (`none` for none).
    pub by_department: BTreeMap<String, SatisfactionTally>,
    /// By assignee's user id (`unassigned` for none).
    pub by_assignee: BTreeMap<String, SatisfactionTally>,
    /// The latest ratings, newest first, at most [`SatisfactionReport::MAX_LISTED`].
    pub ratings: Vec<RatedTicket>,
}

impl SatisfactionReport {
    /// The most ratings a report lists.
    pub const MAX_LISTED: usize = 200;
}

impl HelpDesk {
    /// The satisfaction report over `range` (default: the last 30 days): for reports readers.
    /// Reads the tickets filed in the range through the store's report read (no histories).
    ///
    /// # Errors
    /// `Forbidden`, store failures.
    pub async fn satisfaction_report(
        &self,
        principal: &Principal,
        range: Option<ReportRange>,
    ) -> Result<SatisfactionReport> {
        self.require(principal, Permission::ViewReports, &Resource::none())?;
        let range = range.unwrap_or_else(|| ReportRange::last_30_days(self.now()));
        let mut report = SatisfactionReport {
            from: range.from(),
            to: range.to(),
            resolved: 0,
            overall: SatisfactionTally::default(),
            response_percent: None,
            by_department: BTreeMap::new(),
            by_assignee: BTreeMap::new(),
            ratings: Vec::new(),
        };
        // The store reads the tickets created in the range itself (PostgreSQL selects the
        // rated ones in SQL, sled reads its row cache): walking them through the list route, a
        // page of 100 at a time, took 589–665 ms at 100,000 tickets (BENCHMARKS.md).
        let samples = self.inner.store.satisfaction_samples(range).await?;
        report.resolved = samples.resolved;
        for t in samples.rated {
            let Some(s) = t.satisfaction else { continue };
            report.overall.add(s.rating);
            let department = t.department.as_ref().map(ToString::to_string);
            report.by_department.entry(department.clone().unwrap_or_else(|| "none".into())).or_default().add(s.rating);
            report
                .by_assignee
                .entry(t.assignee.map_or_else(|| "unassigned".into(), |a| a.to_string()))
                .or_default()
                .add(s.rating);
            report.ratings.push(RatedTicket {
                number: t.number,
                assignee: t.assignee,
                department,
                rating: s.rating,
                comment: s.comment.map(String::from),
                rated_at: s.rated_at,
            });
        }
        let rated = report.overall.good + report.overall.bad;
        report.response_percent = (report.resolved > 0).then(|| rated * 100 / report.resolved);
        report.ratings.sort_by(|a, b| b.rated_at.cmp(&a.rated_at).then_with(|| a.number.seq().cmp(&b.number.seq())));
        report.ratings.truncate(SatisfactionReport::MAX_LISTED);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> LinkKey {
        LinkKey::new(vec![b; 32]).unwrap_or_else(|| LinkKey::derive(&[b]))
    }

    fn claims() -> LinkClaims {
        LinkClaims { ticket: TicketId::random(), requester: UserId::random(), expires_at: 1_900_000_000, number: 3 }
    }

    #[test]
    fn tokens_round_trip_under_their_key_only() {
        let c = claims();
        let token = c.sign(&key(1));
        assert_eq!(LinkClaims::verify(&key(1), &token), Some(c));
        assert_eq!(LinkClaims::verify(&key(2), &token), None);
    }

    #[test]
    fn any_changed_byte_is_refused() {
        let c = claims();
        let raw = URL_SAFE_NO_PAD.decode(c.sign(&key(1))).unwrap_or_default();
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            assert_eq!(LinkClaims::verify(&key(1), &URL_SAFE_NO_PAD.encode(&bad)), None, "byte {i}");
        }
        assert_eq!(LinkClaims::verify(&key(1), &URL_SAFE_NO_PAD.encode(&raw[..raw.len() - 1])), None);
        assert_eq!(LinkClaims::verify(&key(1), "not base64!"), None);
        assert_eq!(LinkClaims::verify(&key(1), &"A".repeat(10_000)), None);
    }

    #[test]
    fn derived_keys_differ_from_their_secret_and_each_other() {
        let a = LinkKey::derive(b"secret one");
        assert_eq!(a.bytes().len(), 32);
        assert_ne!(a, LinkKey::derive(b"secret two"));
        assert_eq!(a, LinkKey::derive(b"secret one"));
        assert!(LinkKey::new(vec![0; 31]).is_none());
    }

    #[test]
    fn the_tally_scores_good_over_all() {
        let mut t = SatisfactionTally::default();
        assert_eq!(t.score_per_mille, None);
        for r in [Rating::Good, Rating::Good, Rating::Bad] {
            t.add(r);
        }
        assert_eq!((t.good, t.bad, t.score_per_mille), (2, 1, Some(666)));
    }
}
