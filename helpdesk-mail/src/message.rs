//! The one way a notification becomes an RFC 5322 message (used by every transport): our own
//! Message-ID (`<message id>@<from domain>`, so redelivery of one outbox message keeps its id),
//! `multipart/alternative` with the plain-text and HTML renderings.

use helpdesk_core::domain::MessageId;
use helpdesk_core::model::Notification;
use helpdesk_core::ports::DeliveryError;
use lettre::Message;
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
    Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject)
        .message_id(Some(format!("<{id}@{}>", settings.domain())))
        .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
        .map_err(|e| DeliveryError::Permanent(format!("building the message: {e}")))
}
