//! Turning decisions into outbox messages: mails to the right party and workflow pushes,
//! as self-contained snapshots (SPEC §11: rendered by `helpdesk-mail` at delivery).

use chrono::{DateTime, Utc};

use super::HelpDesk;
use crate::domain::{MessageId, UserId};
use crate::lifecycle::{Effect, MailTemplate, Party};
use crate::model::{
    AttachmentInfo, Notification, NotificationKind, OutboxMessage, OutboxPayload, Ticket, TicketMail, TicketSnapshot,
    User, WorkflowEvent, WorkflowEventKind,
};
use crate::model::{OneTimeToken, SecretToken, TokenHash, TokenPurpose};
use crate::ports::UnitOfWork;
use crate::{Error, Result};

pub(crate) fn ticket_mail(t: &Ticket) -> TicketMail {
    TicketMail { number: t.number.to_string(), subject: t.subject.to_string(), status: t.status }
}

impl HelpDesk {
    /// A mail to `to`.
    pub(crate) fn mail_to(&self, to: &User, kind: NotificationKind, now: DateTime<Utc>) -> OutboxMessage {
        let reply_to = self.reply_address(&kind, to.id);
        OutboxMessage {
            id: MessageId::random(),
            created_at: now,
            payload: OutboxPayload::Mail(Notification {
                to: to.email.clone(),
                to_name: to.display_name(),
                language: self.inner.options.language.clone(),
                reply_to,
                kind,
            }),
        }
    }

    /// The reply address of a mail about a ticket, signed for its recipient, when mail in has
    /// a support address and a key.
    fn reply_address(&self, kind: &NotificationKind, to: UserId) -> Option<String> {
        let opts = &self.inner.options.mail_in;
        let (address, key) = (opts.address.as_deref()?, opts.link_key.as_ref()?);
        let seq = crate::domain::TicketNumber::parse(&kind.ticket()?.number).ok()?.seq();
        crate::mail_in::ReplyToken { ticket_seq: seq, user: to }.address(key, address)
    }

    /// Adds to `uow` a single-use token for `user` valid for `ttl` and the mail that carries
    /// it (a reset link or an invitation); only the token's hash is stored.
    pub(crate) fn add_token_mail(
        &self,
        uow: &mut UnitOfWork,
        user: &User,
        purpose: TokenPurpose,
        ttl: chrono::Duration,
        now: DateTime<Utc>,
    ) {
        let secret = super::random_secret();
        let expires_at = now + ttl;
        uow.new_tokens.push(OneTimeToken {
            hash: TokenHash::of(&secret),
            purpose,
            user: user.id,
            created_at: now,
            expires_at,
            used_at: None,
        });
        let token = SecretToken::new(secret);
        let kind = match purpose {
            TokenPurpose::PasswordReset => NotificationKind::PasswordReset { token, expires_at },
            TokenPurpose::Invitation => NotificationKind::Invitation { token, expires_at },
        };
        uow.outbox.push(self.mail_to(user, kind, now));
    }

    async fn user_or_internal(&self, id: UserId) -> Result<User> {
        self.inner
            .store
            .user(id)
            .await?
            .ok_or_else(|| Error::Internal(format!("user {id} referenced by a ticket is missing")))
    }

    /// The messages a ticket change's effects ask for. `text` is the action's reason, note or
    /// comment; the acting user is never mailed about their own action.
    pub(crate) async fn effect_messages(
        &self,
        ticket: &Ticket,
        effects: &[Effect],
        actor_user: Option<UserId>,
        text: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxMessage>> {
        let mut out = Vec::new();
        for e in effects {
            match e {
                Effect::Mail { to, template } => {
                    let recipient = match to {
                        Party::Requester => Some(ticket.requester),
                        Party::Assignee => ticket.assignee,
                    };
                    let Some(recipient) = recipient else { continue };
                    if Some(recipient) == actor_user && *template != MailTemplate::Received {
                        continue;
                    }
                    let user = self.user_or_internal(recipient).await?;
                    let tm = ticket_mail(ticket);
                    let text = text.unwrap_or_default().to_owned();
                    let text_of_change = text.clone();
                    let kind = match template {
                        MailTemplate::Received => NotificationKind::TicketReceived { ticket: tm },
                        MailTemplate::Approved => NotificationKind::TicketApproved { ticket: tm },
                        MailTemplate::Rejected => NotificationKind::TicketRejected { ticket: tm, reason: text },
                        MailTemplate::Assigned => NotificationKind::TicketAssigned { ticket: tm },
                        MailTemplate::WaitingOnRequester => {
                            NotificationKind::WaitingOnRequester { ticket: tm, comment: text }
                        }
                        MailTemplate::Resolved => NotificationKind::TicketResolved {
                            ticket: tm,
                            note: text,
                            rating: (recipient == ticket.requester)
                                .then(|| self.rating_link(ticket, now))
                                .flatten()
                                .map(|l| crate::model::RatingMail { token: l.token, expires_at: l.expires_at }),
                        },
                        MailTemplate::Reopened => NotificationKind::TicketReopened { ticket: tm, reason: text },
                    };
                    out.push(self.mail_to(&user, kind, now));
                    // Followers hear what the requester hears (not the receipt of a new ticket).
                    if *to == Party::Requester && *template != MailTemplate::Received {
                        out.extend(self.follower_messages(ticket, *template, &text_of_change, actor_user, now).await?);
                    }
                }
                Effect::Workflow(kind) => out.push(self.workflow_message(*kind, ticket, now).await?),
            }
        }
        Ok(out)
    }

    /// A workflow push with the ticket and its public attachments' metadata.
    pub(crate) async fn workflow_message(
        &self,
        kind: WorkflowEventKind,
        ticket: &Ticket,
        now: DateTime<Utc>,
    ) -> Result<OutboxMessage> {
        let requester = self.user_or_internal(ticket.requester).await?;
        let attachments = self
            .inner
            .store
            .attachments(ticket.id)
            .await?
            .into_iter()
            .filter(|a| !a.internal)
            .map(|a| AttachmentInfo {
                id: a.id,
                file_name: a.file_name.to_string(),
                content_type: a.content_type,
                size: a.size,
                sha256: a.sha256,
            })
            .collect();
        let snapshot = TicketSnapshot {
            id: ticket.id,
            number: ticket.number.to_string(),
            subject: ticket.subject.to_string(),
            description: ticket.description.to_string(),
            category: ticket.category.to_string(),
            sub_category: ticket.sub_category.to_string(),
            priority: ticket.priority.map(|p| p.to_string()),
            department: ticket.department.as_ref().map(|d| d.to_string()),
            status: ticket.status,
            requester_email: requester.email.to_string(),
            scheduled_date: ticket.scheduled_date,
            created_at: ticket.created_at,
            updated_at: ticket.updated_at,
            version: ticket.version,
            attachments,
        };
        Ok(OutboxMessage {
            id: MessageId::random(),
            created_at: now,
            payload: OutboxPayload::Workflow(WorkflowEvent { kind, at: now, ticket: snapshot, sla: None }),
        })
    }
}
