//! Plain-text rendering of every notification of SPEC §6. Links come only from
//! [`MailSettings::public_url`]; single-use tokens travel in the URL fragment so they never
//! reach a server's access log.

use helpdesk_core::model::{Notification, NotificationKind, TicketMail};

use crate::MailSettings;

/// A rendered message, ready for a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
}

fn ticket_link(s: &MailSettings, t: &TicketMail) -> String {
    s.link(&format!("/tickets/{}", t.number))
}

/// Renders `n` for the deployment `s`.
pub fn render(s: &MailSettings, n: &Notification) -> RenderedMail {
    let product = &s.product_name;
    let (subject, body) = match &n.kind {
        NotificationKind::RegistrationReceived => (
            format!("{product}: registration received"),
            "We received your registration. An administrator will review it; you will get another mail when your account is ready.".to_owned(),
        ),
        NotificationKind::AccountApproved => (
            format!("{product}: your account is ready"),
            format!("Your account was approved. Sign in at {}", s.link("/login")),
        ),
        NotificationKind::RegistrationRejected { reason } => (
            format!("{product}: registration unsuccessful"),
            match reason {
                Some(r) => format!("Your registration was not approved.\n\nReason: {r}"),
                None => "Your registration was not approved.".to_owned(),
            },
        ),
        NotificationKind::Invitation { token, expires_at } => (
            format!("{product}: set your password"),
            format!(
                "An account was created for you. Choose your password at\n{}\n\nThe link works once and expires at {}.",
                s.link(&format!("/accept-invitation#token={}", token.expose())),
                expires_at.to_rfc3339()
            ),
        ),
        NotificationKind::PasswordReset { token, expires_at } => (
            format!("{product}: reset your password"),
            format!(
                "Someone asked to reset your password. If it was you, choose a new one at\n{}\n\nThe link works once and expires at {}. If it was not you, ignore this mail.",
                s.link(&format!("/reset-password#token={}", token.expose())),
                expires_at.to_rfc3339()
            ),
        ),
        NotificationKind::PasswordChanged => (
            format!("{product}: your password was changed"),
            "Your password was changed and your other sessions were ended. If this was not you, reset your password now.".to_owned(),
        ),
        NotificationKind::TicketReceived { ticket } => (
            format!("{product}: {} received", ticket.number),
            format!("We received your ticket \"{}\".\n\n{}", ticket.subject, ticket_link(s, ticket)),
        ),
        NotificationKind::TicketApproved { ticket } => (
            format!("{product}: {} approved", ticket.number),
            format!("Your ticket \"{}\" was approved and is being worked on.\n\n{}", ticket.subject, ticket_link(s, ticket)),
        ),
        NotificationKind::TicketRejected { ticket, reason } => (
            format!("{product}: {} rejected", ticket.number),
            format!("Your ticket \"{}\" was rejected.\n\nReason: {reason}\n\n{}", ticket.subject, ticket_link(s, ticket)),
        ),
        NotificationKind::TicketAssigned { ticket } => (
            format!("{product}: {} assigned to you", ticket.number),
            format!("The ticket \"{}\" was assigned to you.\n\n{}", ticket.subject, ticket_link(s, ticket)),
        ),
        NotificationKind::WaitingOnRequester { ticket, comment } => (
            format!("{product}: {} needs your answer", ticket.number),
            format!("We need something from you on \"{}\":\n\n{comment}\n\nAnswer at {}", ticket.subject, ticket_link(s, ticket)),
        ),
        NotificationKind::TicketResolved { ticket, note } => (
            format!("{product}: {} resolved", ticket.number),
            format!("Your ticket \"{}\" was resolved.\n\n{note}\n\nClose or reopen it at {}", ticket.subject, ticket_link(s, ticket)),
        ),
        NotificationKind::TicketReopened { ticket, reason } => (
            format!("{product}: {} reopened", ticket.number),
            format!("The ticket \"{}\" was reopened.\n\nReason: {reason}\n\n{}", ticket.subject, ticket_link(s, ticket)),
        ),
        NotificationKind::PublicComment { ticket, author, body } => (
            format!("{product}: new comment on {}", ticket.number),
            format!("{author} wrote on \"{}\":\n\n{body}\n\n{}", ticket.subject, ticket_link(s, ticket)),
        ),
        other => (format!("{product}: {}", other.name().replace('_', " ")), String::new()),
    };
    let text = format!("Hello {},\n\n{body}\n\n-- \n{product}\n", n.to_name);
    RenderedMail { subject, text }
}
