//! Links between tickets and merges. A link is kept on both tickets, each as it sees it
//! (`A duplicate_of B` is `B duplicated_by A`), written in one unit of work with an internal
//! event on each; links are staff's (requesters do not see them), so like an internal note a
//! link moves neither ticket's version. A parent is not resolved while a child is open unless
//! staff force it with a note.
//!
//! A merge folds a duplicate into the ticket that is worked on, in one unit of work: the
//! duplicate's subject and description (as its requester's comment), comments and attachments
//! are copied onto the survivor (authors, times and
//! visibility kept; the files themselves are shared, never copied), its followers and
//! requester come to follow the survivor, the duplicate is closed as a pointer to the survivor
//! (`merged_into`: pages redirect there), both histories say so, and the duplicate's requester
//! and followers are told by mail. There is no unmerge: the pointer and both histories stay.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::HelpDesk;
use super::notify::ticket_mail;
use crate::domain::{AttachmentId, CommentId, EventId, Note, TicketNumber, TicketStatus};
use crate::model::{
    ActorRef, Attachment, Comment, EventKind, FieldChange, HistoryEvent, LinkKind, NotificationKind, SlaSchedule,
    Ticket, TicketLink,
};
use crate::policy::{Permission, Principal, Resource};
use crate::ports::{UnitOfWork, Versioned};
use crate::{AuthFailure, Error, FieldError, Result};

impl HelpDesk {
    /// The two tickets of a link or merge, both visible to the principal and allowed `perm`.
    async fn ticket_pair(
        &self,
        principal: &Principal,
        number: &TicketNumber,
        other: &str,
        perm: Permission,
        field: &'static str,
    ) -> Result<(Ticket, Ticket)> {
        let t = self.visible_ticket(principal, number).await?;
        self.require(principal, perm, &Resource::ticket(&t))?;
        let unknown = || Error::from(FieldError::new(field, "unknown", "no ticket you can see has this number"));
        let other = TicketNumber::parse(other.trim()).map_err(|_| unknown())?;
        if other == t.number {
            return Err(FieldError::new(field, "same_ticket", "a ticket cannot be linked to itself").into());
        }
        let o = match self.visible_ticket(principal, &other).await {
            Ok(o) => o,
            Err(Error::NotFound { .. }) => return Err(unknown()),
            Err(e) => return Err(e),
        };
        self.require(principal, perm, &Resource::ticket(&o))?;
        Ok((t, o))
    }

    fn link_event(t: &Ticket, actor: &ActorRef, kind: EventKind, now: DateTime<Utc>) -> HistoryEvent {
        HistoryEvent {
            id: EventId::random(),
            ticket: t.id,
            at: now,
            actor: actor.clone(),
            kind,
            changes: Vec::new(),
            note: None,
            internal: true,
            version: t.version,
            by_macro: None,
        }
    }

    /// Links ticket `number` to `other` as `kind` (as `number` sees it); the other ticket
    /// holds the reverse. A link to a ticket already linked replaces its kind.
    ///
    /// # Errors
    /// `NotFound`; `Forbidden` (staff only); `Validation` on `ticket` (unknown, the same
    /// ticket, merged) or `kind` (a ticket its own grandparent); `VersionConflict`.
    pub async fn link_tickets(
        &self,
        principal: &Principal,
        number: &TicketNumber,
        kind: LinkKind,
        other: &str,
        expected: Option<u64>,
    ) -> Result<Ticket> {
        let (t, o) = self.ticket_pair(principal, number, other, Permission::LinkTickets, "ticket").await?;
        Self::check_ticket_version(&t, expected)?;
        if t.merged_into.is_some() || o.merged_into.is_some() {
            return Err(FieldError::new("ticket", "merged", "a merged ticket takes no links").into());
        }
        if t.link_to(&o.number).is_some_and(|l| l.kind == kind) {
            return Ok(t);
        }
        if t.links.len() >= Ticket::MAX_LINKS || o.links.len() >= Ticket::MAX_LINKS {
            return Err(FieldError::new(
                "ticket",
                "too_many",
                format!("a ticket has {} links at most", Ticket::MAX_LINKS),
            )
            .into());
        }
        // A child cannot be its parent's parent (the simplest cycle; deeper ones are harmless
        // to resolution, which looks one level down).
        let reverse_parent = matches!(kind, LinkKind::ParentOf | LinkKind::ChildOf)
            && o.link_to(&t.number).is_some_and(|l| l.kind == kind);
        if reverse_parent {
            return Err(
                FieldError::new("kind", "cycle", "the other ticket already holds this link the other way").into()
            );
        }
        let actor = principal.actor().ok_or(Error::Unauthenticated(AuthFailure::Missing))?.to_ref();
        let now = self.now();
        let mut uow = UnitOfWork::new();
        for (me, them, k) in [(&t, &o, kind), (&o, &t, kind.reverse())] {
            let mut next = me.clone();
            next.links.retain(|l| l.ticket != them.number);
            next.links.push(TicketLink { kind: k, ticket: them.number.clone() });
            next.links.sort_by_key(|l| l.ticket.seq());
            uow.events.push(Self::link_event(
                &next,
                &actor,
                EventKind::Linked { kind: k, ticket: them.number.clone() },
                now,
            ));
            uow.tickets.push(Versioned::update(next, me.version));
        }
        self.commit_ticket(uow).await
    }

    /// Takes away the link between ticket `number` and `other`, on both.
    ///
    /// # Errors
    /// `NotFound` (either ticket, or no such link); `Forbidden`; `VersionConflict`.
    pub async fn unlink_tickets(
        &self,
        principal: &Principal,
        number: &TicketNumber,
        other: &TicketNumber,
        expected: Option<u64>,
    ) -> Result<Ticket> {
        let (t, o) = self
            .ticket_pair(principal, number, other.as_str(), Permission::LinkTickets, "ticket")
            .await
            .map_err(|e| if matches!(e, Error::Validation(_)) { Error::NotFound { what: "link" } } else { e })?;
        Self::check_ticket_version(&t, expected)?;
        let Some(link) = t.link_to(&o.number).cloned() else { return Err(Error::NotFound { what: "link" }) };
        let actor = principal.actor().ok_or(Error::Unauthenticated(AuthFailure::Missing))?.to_ref();
        let now = self.now();
        let mut uow = UnitOfWork::new();
        for (me, them, k) in [(&t, &o, link.kind), (&o, &t, link.kind.reverse())] {
            let mut next = me.clone();
            next.links.retain(|l| l.ticket != them.number);
            let kind = EventKind::Unlinked { kind: k, ticket: them.number.clone() };
            uow.events.push(Self::link_event(&next, &actor, kind, now));
            uow.tickets.push(Versioned::update(next, me.version));
        }
        self.commit_ticket(uow).await
    }

    /// The children of `t` still open (neither resolved nor closed), by number: what keeps it
    /// from being resolved without `force`.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn open_children(&self, t: &Ticket) -> Result<Vec<TicketNumber>> {
        let mut open = Vec::new();
        for l in t.links.iter().filter(|l| l.kind == LinkKind::ParentOf) {
            if let Some(c) = self.inner.store.ticket_by_number(&l.ticket).await?
                && !c.status.is_terminal()
                && c.status != TicketStatus::Resolved
            {
                open.push(c.number);
            }
        }
        Ok(open)
    }

    /// Merges ticket `number` (the duplicate) into `into` (the survivor); see the module docs.
    /// Answers the survivor.
    ///
    /// # Errors
    /// `NotFound`; `Forbidden` (staff only); `Validation` on `into` (unknown, the same ticket,
    /// merged, closed) or `note` (required: the requester is told why); `VersionConflict`.
    pub async fn merge_ticket(
        &self,
        principal: &Principal,
        number: &TicketNumber,
        into: &str,
        note: &str,
        expected: Option<u64>,
    ) -> Result<Ticket> {
        let (dup, keep) = self.ticket_pair(principal, number, into, Permission::MergeTickets, "into").await?;
        Self::check_ticket_version(&dup, expected)?;
        let note = Note::parse_field("note", note.trim())?;
        if dup.merged_into.is_some() {
            return Err(Error::Conflict("this ticket was merged already"));
        }
        if keep.merged_into.is_some() || keep.status.is_terminal() {
            return Err(FieldError::new("into", "closed", "the surviving ticket is closed or merged").into());
        }
        let actor = principal.actor().ok_or(Error::Unauthenticated(AuthFailure::Missing))?.to_ref();
        let now = self.now();
        let store = &self.inner.store;
        let (comments, attachments) = futures::try_join!(store.comments(dup.id), store.attachments(dup.id))?;
        let mut uow = UnitOfWork::new();

        // The survivor: the duplicate's conversation, followers (its requester among them) and
        // a link back.
        let mut next = keep.clone();
        next.version = keep.version + 1;
        next.updated_at = now;
        // What the duplicate's requester wrote comes first, as their comment.
        let opening = format!("{} (filed as {})\n\n{}", dup.subject, dup.number, dup.description);
        let opening: String = opening.chars().take(crate::domain::CommentBody::MAX_CHARS).collect();
        uow.comments.push(Comment {
            id: CommentId::random(),
            ticket: keep.id,
            author: ActorRef::User { id: dup.requester },
            body: crate::domain::CommentBody::parse(&opening)?,
            internal: false,
            created_at: dup.created_at,
        });
        let mut new_ids: HashMap<CommentId, CommentId> = HashMap::new();
        for c in &comments {
            let id = CommentId::random();
            new_ids.insert(c.id, id);
            uow.comments.push(Comment { id, ticket: keep.id, ..c.clone() });
        }
        for a in &attachments {
            uow.attachments.push(Attachment {
                id: AttachmentId::random(),
                ticket: keep.id,
                comment: a.comment.and_then(|c| new_ids.get(&c).copied()),
                ..a.clone()
            });
        }
        let mut followers = next.followers.clone();
        followers.extend(dup.followers.iter().copied());
        followers.push(dup.requester);
        followers.retain(|f| *f != keep.requester);
        followers.sort_unstable();
        followers.dedup();
        followers.truncate(Ticket::MAX_FOLLOWERS);
        next.followers = followers;
        next.links.retain(|l| l.ticket != dup.number);
        next.links.push(TicketLink { kind: LinkKind::DuplicatedBy, ticket: dup.number.clone() });
        next.links.sort_by_key(|l| l.ticket.seq());
        uow.events.push(HistoryEvent {
            note: Some(note.to_string()),
            internal: false,
            changes: vec![FieldChange::new("comments", None, Some(comments.len().to_string()))],
            ..Self::link_event(&next, &actor, EventKind::MergedFrom { ticket: dup.number.clone() }, now)
        });

        // The duplicate: closed, pointing at the survivor.
        let mut closed = dup.clone();
        closed.version = dup.version + 1;
        closed.updated_at = now;
        closed.status = TicketStatus::Closed;
        closed.closed_at = Some(now);
        closed.merged_into = Some(keep.number.clone());
        closed.sla = SlaSchedule::default();
        closed.links.retain(|l| l.ticket != keep.number);
        closed.links.push(TicketLink { kind: LinkKind::DuplicateOf, ticket: keep.number.clone() });
        closed.links.sort_by_key(|l| l.ticket.seq());
        uow.events.push(HistoryEvent {
            note: Some(note.to_string()),
            internal: false,
            changes: vec![FieldChange::new("status", Some(dup.status.as_str().to_owned()), Some("closed".to_owned()))],
            ..Self::link_event(&closed, &actor, EventKind::MergedInto { ticket: keep.number.clone() }, now)
        });

        // The duplicate's requester and followers are told where it went.
        let me = principal.user().map(|u| u.id);
        let mut told = vec![dup.requester];
        told.extend(dup.followers.iter().copied());
        for id in told.into_iter().filter(|id| Some(*id) != me) {
            if let Some(u) = store.user(id).await? {
                let kind = NotificationKind::TicketMerged {
                    ticket: ticket_mail(&closed),
                    into: ticket_mail(&next),
                    note: note.to_string(),
                };
                uow.outbox.push(self.mail_to(&u, kind, now));
            }
        }
        uow.tickets.push(Versioned::update(next, keep.version));
        uow.tickets.push(Versioned::update(closed, dup.version));
        self.commit_ticket(uow).await
    }
}
