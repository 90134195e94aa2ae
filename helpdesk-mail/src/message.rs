//! The one way a notification becomes an RFC 5322 message (used by every transport): our own
//! Message-ID (`<message id>@<from domain>`, so redelivery of one outbox message keeps its id),
//! `multipart/alternative` with the plain-text and HTML renderings.
//!
//! A mail with a reply address (`Notification::reply_to`, signed for its ticket and recipient)
//! says `Reply-To:` it, so an answer comes back to the help desk.
//!
//! Every mail about a ticket names the same thread root in `In-Reply-To` and `References`
//! (`<ticket.TX0042@<from domain>>`, a message that is never sent), so mail programs show a
//! ticket's mails as one conversation, as they do for Request Tracker's and Zendesk's. Every
//! mail says `Auto-Submitted: auto-generated` (RFC 3834), so vacation responders and other
//! automatic replies do not answer it.

use helpdesk_core::domain::MessageId;
use helpdesk_core::model::Notification;
use helpdesk_core::ports::DeliveryError;
use lettre::Message;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

use crate::{MailSettings, render};

/// Builds the message for `n`.
///
/// # Errors
/// [`DeliveryError::Permanent`] for an address lettre refuses (retrying cannot help).
pub fn build_message(settings: &MailSettings, id: MessageId, n: &Notification) -> Result<Message, DeliveryError> {
    let mail = render(settings, n);
    let from: Mailbox =
        settings.from.parse().map_err(|e| DeliveryError::Permanent(format!("the From address is not valid: {e}")))?;
    let address = n.to.as_str().parse().map_err(|e| DeliveryError::Permanent(format!("recipient address: {e}")))?;
    let name = n.to_name.replace(['\r', '\n', '"'], "");
    let to = Mailbox::new((!name.is_empty()).then_some(name), address);
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject)
        .message_id(Some(format!("<{id}@{}>", settings.domain())))
        .header(AutoSubmitted);
    if let Some(root) = thread_root(settings, n) {
        builder = builder.in_reply_to(root.clone()).references(root);
    }
    if let Some(reply_to) = n.reply_to.as_deref().and_then(|r| r.parse::<Mailbox>().ok()) {
        builder = builder.reply_to(reply_to);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
        .map_err(|e| DeliveryError::Permanent(format!("building the message: {e}")))
}

/// The Message-ID that the mails about `n`'s ticket all answer: `<ticket.TX0042@domain>`.
pub fn thread_root(settings: &MailSettings, n: &Notification) -> Option<String> {
    let number = &n.kind.ticket()?.number;
    // Ticket numbers are letters and digits; anything else is left out rather than trusted.
    let safe: String = number.chars().filter(char::is_ascii_alphanumeric).collect();
    Some(format!("<ticket.{safe}@{}>", settings.domain()))
}

/// `Auto-Submitted: auto-generated` (RFC 3834): this mail was sent by a program, not a person.
#[derive(Debug, Clone, Copy)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use helpdesk_core::domain::{Email, TicketStatus};
    use helpdesk_core::model::{NotificationKind, TicketMail};

    use super::*;

    fn formatted(kind: NotificationKind) -> String {
        let n = Notification {
            to: Email::parse("ana@example.com").unwrap(),
            to_name: "Ana Cruz".into(),
            language: "en".into(),
            reply_to: None,
            kind,
        };
        let settings = MailSettings { from: "Help Desk <help@desk.example>".into(), ..MailSettings::default() };
        String::from_utf8(build_message(&settings, MessageId::random(), &n).unwrap().formatted()).unwrap()
    }

    #[test]
    fn a_tickets_mails_share_one_thread_and_every_mail_is_marked_automatic() {
        let ticket = TicketMail { number: "TX0042".into(), subject: "Dock".into(), status: TicketStatus::Open };
        for kind in [
            NotificationKind::TicketApproved { ticket: ticket.clone() },
            NotificationKind::PublicComment { ticket, author: "Ben".into(), body: "Done".into() },
        ] {
            let text = formatted(kind);
            assert!(text.contains("In-Reply-To: <ticket.TX0042@desk.example>"), "{text}");
            assert!(text.contains("References: <ticket.TX0042@desk.example>"), "{text}");
            assert!(text.contains("Auto-Submitted: auto-generated"), "{text}");
        }
        let text = formatted(NotificationKind::PasswordChanged);
        assert!(!text.contains("In-Reply-To") && !text.contains("References"), "{text}");
        assert!(text.contains("Auto-Submitted: auto-generated"), "{text}");
    }
}
