//! Followers: colleagues (approved users) the requester or staff add to a ticket. A follower
//! reads the ticket's public thread, gets the mails its requester gets about it and may
//! comment; the policy keeps everything internal from them, and since the policy reads the
//! ticket as stored on every request, removing a follower ends their access at their next
//! request. Adding and removing are ticket changes: a version, a public history event, and a
//! mail to the new follower, in one commit.

use chrono::{DateTime, Utc};

use super::HelpDesk;
use super::notify::ticket_mail;
use crate::domain::{Email, EventId, TicketNumber, UserId, UserStatus};
use crate::lifecycle::MailTemplate;
use crate::model::{EventKind, HistoryEvent, NotificationKind, OutboxMessage, Ticket, TicketMail, User, UserSummary};
use crate::policy::{Permission, Principal, Resource};
use crate::ports::{UnitOfWork, Versioned};
use crate::{AuthFailure, Error, FieldError, Result};

impl HelpDesk {
    /// The people following a ticket the principal may see, in the order they were added
    /// (by id).
    ///
    /// # Errors
    /// `NotFound` for tickets the principal may not see.
    pub async fn followers(&self, principal: &Principal, number: &TicketNumber) -> Result<Vec<UserSummary>> {
        let t = self.visible_ticket(principal, number).await?;
        let mut out = Vec::with_capacity(t.followers.len());
        for id in &t.followers {
            if let Some(u) = self.inner.store.user(*id).await? {
                out.push(u.summary());
            }
        }
        Ok(out)
    }

    /// Adds the approved user with this address as a follower (the requester of the ticket
    /// or staff may). Adding someone who already follows changes nothing.
    ///
    /// # Errors
    /// `NotFound`; `Forbidden`; `Validation` on `email` (not an approved user's address, the
    /// requester, someone the policy would not let see the ticket, or one follower too many);
    /// `Conflict` when a non-staff caller adds to a closed ticket; `VersionConflict`.
    pub async fn add_follower(
        &self,
        principal: &Principal,
        number: &TicketNumber,
        email: &str,
        expected: Option<u64>,
    ) -> Result<Ticket> {
        let t = self.visible_ticket(principal, number).await?;
        Self::check_ticket_version(&t, expected)?;
        self.require(principal, Permission::ManageFollowers, &Resource::ticket(&t))?;
        if (t.status.is_terminal() && !principal.is_staff()) || t.merged_into.is_some() {
            return Err(Error::Conflict("this ticket is closed to new followers"));
        }
        let field = |code: &'static str, message: &str| Error::from(FieldError::new("email", code, message));
        let email = Email::parse(email.trim()).map_err(|_| field("invalid", "not an email address"))?;
        // Unknown and not approved read alike, so the form tells nobody who registered.
        let user = match self.inner.store.user_by_email(&email).await? {
            Some(u) if u.status == UserStatus::Approved => u,
            _ => return Err(field("unknown", "no approved user has this address")),
        };
        if user.id == t.requester {
            return Err(field("is_requester", "the requester follows their own ticket already"));
        }
        if t.is_followed_by(user.id) {
            return Ok(t);
        }
        if t.followers.len() >= Ticket::MAX_FOLLOWERS {
            return Err(field("too_many", &format!("a ticket has {} followers at most", Ticket::MAX_FOLLOWERS)));
        }
        let mut next = t.clone();
        next.followers.push(user.id);
        next.followers.sort_unstable();
        if !self.allowed(&Principal::of_user(&user), Permission::ViewTicket, &Resource::ticket(&next)) {
            return Err(field("cannot_see", "this person may not see this ticket"));
        }
        let now = self.now();
        let mut uow = self.follower_change(principal, &t, next, EventKind::FollowerAdded { user: user.id }, now)?;
        if principal.user().map(|u| u.id) != Some(user.id) {
            let by = self.display_name_of(principal).await?;
            let kind = NotificationKind::FollowingStarted { ticket: ticket_mail(&t), by };
            uow.outbox.push(self.mail_to(&user, kind, now));
        }
        self.commit_ticket(uow).await
    }

    /// Removes a follower: the requester or staff may remove anyone, a follower themselves.
    /// Their access ends at their next request.
    ///
    /// # Errors
    /// `NotFound` (the ticket, or `user` does not follow it); `Forbidden`; `VersionConflict`.
    pub async fn remove_follower(
        &self,
        principal: &Principal,
        number: &TicketNumber,
        user: UserId,
        expected: Option<u64>,
    ) -> Result<Ticket> {
        let t = self.visible_ticket(principal, number).await?;
        Self::check_ticket_version(&t, expected)?;
        let leaving = principal.user().is_some_and(|u| u.id == user);
        let may = self.allowed(principal, Permission::ManageFollowers, &Resource::ticket(&t))
            || (leaving && self.allowed(principal, Permission::StopFollowing, &Resource::ticket(&t)));
        if !may {
            return Err(Error::Forbidden("remove followers"));
        }
        if !t.is_followed_by(user) {
            return Err(Error::NotFound { what: "follower" });
        }
        let mut next = t.clone();
        next.followers.retain(|f| *f != user);
        let uow = self.follower_change(principal, &t, next, EventKind::FollowerRemoved { user }, self.now())?;
        self.commit_ticket(uow).await
    }

    /// The unit of work of a change of followers: the ticket at its next version and its
    /// public history event.
    fn follower_change(
        &self,
        principal: &Principal,
        t: &Ticket,
        mut next: Ticket,
        kind: EventKind,
        now: DateTime<Utc>,
    ) -> Result<UnitOfWork> {
        let actor = principal.actor().ok_or(Error::Unauthenticated(AuthFailure::Missing))?;
        next.updated_at = now;
        next.version = t.version + 1;
        let mut uow = UnitOfWork::new();
        uow.events.push(HistoryEvent {
            id: EventId::random(),
            ticket: t.id,
            at: now,
            actor: actor.to_ref(),
            kind,
            changes: Vec::new(),
            note: None,
            internal: false,
            version: next.version,
            by_macro: None,
        });
        uow.tickets.push(Versioned::update(next, t.version));
        Ok(uow)
    }

    /// The principal's name as mails show it.
    pub(crate) async fn display_name_of(&self, principal: &Principal) -> Result<String> {
        Ok(match principal {
            Principal::User(u) => {
                self.inner.store.user(u.id).await?.map_or_else(|| "staff".to_owned(), |u| u.display_name())
            }
            Principal::ExternalSystem(k) => k.name.clone(),
            Principal::System | Principal::Anonymous => "the help desk".to_owned(),
        })
    }

    /// The followers of `ticket` a mail about it should reach: approved, able to see the
    /// ticket now, not `except` (who made the change).
    pub(crate) async fn followers_to_mail(&self, ticket: &Ticket, except: Option<UserId>) -> Result<Vec<User>> {
        let mut out = Vec::new();
        for id in ticket.followers.iter().filter(|f| Some(**f) != except) {
            let Some(u) = self.inner.store.user(*id).await? else { continue };
            if u.status == UserStatus::Approved
                && self.allowed(&Principal::of_user(&u), Permission::ViewTicket, &Resource::ticket(ticket))
            {
                out.push(u);
            }
        }
        Ok(out)
    }

    /// The followers' copies of a lifecycle mail to the requester.
    pub(crate) async fn follower_messages(
        &self,
        ticket: &Ticket,
        change: MailTemplate,
        text: &str,
        except: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxMessage>> {
        let tm: TicketMail = ticket_mail(ticket);
        Ok(self
            .followers_to_mail(ticket, except)
            .await?
            .iter()
            .map(|u| {
                let kind =
                    NotificationKind::FollowedTicketChanged { ticket: tm.clone(), change, text: text.to_owned() };
                self.mail_to(u, kind, now)
            })
            .collect())
    }
}
