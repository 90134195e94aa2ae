//! The mails of SPEC §6, each written once as structured content and rendered both as plain
//! text and as HTML (user-supplied text escaped). Links come only from
//! [`MailSettings::public_url`]; single-use tokens travel in the URL fragment so they never
//! reach a web server's access log. Internal comments never reach these templates: the core
//! only enqueues public content for requesters.

use helpdesk_core::lifecycle::MailTemplate;
use helpdesk_core::model::{Notification, NotificationKind, TicketMail};
use helpdesk_core::sla::{TargetKind, TargetState};

use crate::MailSettings;

/// A rendered message, ready for a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// What a mail says, before it is rendered.
struct Content {
    subject: String,
    lines: Vec<String>,
    quote: Option<String>,
    action: Option<(String, String)>,
    /// A question answered by one of several links (the satisfaction rating): the question,
    /// then each answer's label and link.
    choices: Option<(String, Vec<(String, String)>)>,
}

fn ticket_link(s: &MailSettings, t: &TicketMail) -> (String, String) {
    (format!("Open {}", t.number), s.link(&format!("/tickets/{}", t.number)))
}

fn content(s: &MailSettings, kind: &NotificationKind) -> Content {
    let product = &s.product_name;
    let c = |subject: String, lines: Vec<String>, quote: Option<String>, action: Option<(String, String)>| Content {
        subject,
        lines,
        quote,
        action,
        choices: None,
    };
    match kind {
        NotificationKind::RegistrationReceived => c(
            format!("{product}: registration received"),
            vec!["We received your registration. An administrator will review it; you will get another mail when your account is ready.".into()],
            None,
            None,
        ),
        NotificationKind::AccountApproved => c(
            format!("{product}: your account is ready"),
            vec!["Your account was approved. You can sign in now.".into()],
            None,
            Some(("Sign in".into(), s.link("/login"))),
        ),
        NotificationKind::RegistrationRejected { reason } => c(
            format!("{product}: registration unsuccessful"),
            vec!["Your registration was not approved. You may register again with the same address.".into()],
            reason.clone(),
            None,
        ),
        NotificationKind::Invitation { token, expires_at } => c(
            format!("{product}: set your password"),
            vec![
                "An account was created for you. Choose your password to start.".into(),
                format!("The link works once and expires at {} UTC.", expires_at.format("%Y-%m-%d %H:%M")),
            ],
            None,
            Some(("Choose your password".into(), s.link(&format!("/accept-invitation#token={}", token.expose())))),
        ),
        NotificationKind::PasswordReset { token, expires_at } => c(
            format!("{product}: reset your password"),
            vec![
                "Someone asked to reset your password. If it was you, choose a new one with the link below.".into(),
                format!(
                    "The link works once and expires at {} UTC. If it was not you, ignore this mail: your password stays as it is.",
                    expires_at.format("%Y-%m-%d %H:%M")
                ),
            ],
            None,
            Some(("Reset your password".into(), s.link(&format!("/reset-password#token={}", token.expose())))),
        ),
        NotificationKind::MailHeld { subject, reason, confirm } => {
            let mut lines = vec![
                format!("Your message \u{201c}{subject}\u{201d} reached the help desk but was not filed: {reason}."),
            ];
            match confirm {
                Some(c) => lines.push(format!(
                    "If you sent it, confirm with the link below and it will be filed. The link works once and expires at {} UTC. If you did not send it, ignore this mail.",
                    c.expires_at.format("%Y-%m-%d %H:%M")
                )),
                None => lines.push("An administrator can see it. You can also file your request on the help desk's website.".into()),
            }
            let action = match confirm {
                Some(c) => ("Confirm my message".to_owned(), s.link(&format!("/mail/confirm/{}/{}", c.id, c.token.expose()))),
                None => ("Open the help desk".to_owned(), s.link("/")),
            };
            c(format!("{product}: your message was held"), lines, None, Some(action))
        }
        NotificationKind::PasswordChanged => c(
            format!("{product}: your password was changed"),
            vec!["Your password was changed and your other sessions were ended. If this was not you, reset your password now.".into()],
            None,
            Some(("Reset your password".into(), s.link("/forgot-password"))),
        ),
        NotificationKind::TicketReceived { ticket } => c(
            format!("{product}: {} received", ticket.number),
            vec![format!("We received your ticket {} \u{201c}{}\u{201d}. A coordinator will review it.", ticket.number, ticket.subject)],
            None,
            Some(ticket_link(s, ticket)),
        ),
        NotificationKind::TicketApproved { ticket } => c(
            format!("{product}: {} approved", ticket.number),
            vec![format!("Your ticket {} \u{201c}{}\u{201d} was approved and will be worked on.", ticket.number, ticket.subject)],
            None,
            Some(ticket_link(s, ticket)),
        ),
        NotificationKind::TicketRejected { ticket, reason } => c(
            format!("{product}: {} rejected", ticket.number),
            vec![format!("Your ticket {} \u{201c}{}\u{201d} was rejected. The reason:", ticket.number, ticket.subject)],
            Some(reason.clone()),
            Some(ticket_link(s, ticket)),
        ),
        NotificationKind::TicketAssigned { ticket } => c(
            format!("{product}: {} assigned to you", ticket.number),
            vec![format!("The ticket {} \u{201c}{}\u{201d} was assigned to you.", ticket.number, ticket.subject)],
            None,
            Some(ticket_link(s, ticket)),
        ),
        NotificationKind::WaitingOnRequester { ticket, comment } => c(
            format!("{product}: {} needs your answer", ticket.number),
            vec![format!("We need something from you on {} \u{201c}{}\u{201d}:", ticket.number, ticket.subject)],
            Some(comment.clone()),
            Some((format!("Answer on {}", ticket.number), s.link(&format!("/tickets/{}", ticket.number)))),
        ),
        NotificationKind::TicketResolved { ticket, note, rating } => {
            let mut content = c(
                format!("{product}: {} resolved", ticket.number),
                vec![
                    format!("Your ticket {} \u{201c}{}\u{201d} was resolved:", ticket.number, ticket.subject),
                    "If the problem is solved, close the ticket; if not, reopen it.".into(),
                ],
                Some(note.clone()),
                Some(ticket_link(s, ticket)),
            );
            if let Some(r) = rating {
                let link = |answer: &str| {
                    s.link(&format!("/rate/{}/{}?rating={answer}", ticket.number, r.token.expose()))
                };
                content.choices = Some((
                    format!(
                        "How did we do? Choose one to rate the help you got (the page lets you add a comment; you can change your rating until {} UTC):",
                        r.expires_at.format("%Y-%m-%d %H:%M")
                    ),
                    vec![("Good, I'm satisfied".into(), link("good")), ("Bad, I'm not satisfied".into(), link("bad"))],
                ));
            }
            content
        }
        NotificationKind::TicketReopened { ticket, reason } => c(
            format!("{product}: {} reopened", ticket.number),
            vec![format!("The ticket {} \u{201c}{}\u{201d} was reopened. The reason:", ticket.number, ticket.subject)],
            Some(reason.clone()),
            Some(ticket_link(s, ticket)),
        ),
        NotificationKind::PublicComment { ticket, author, body } => c(
            format!("{product}: new comment on {}", ticket.number),
            vec![format!("{author} commented on {} \u{201c}{}\u{201d}:", ticket.number, ticket.subject)],
            Some(body.clone()),
            Some(ticket_link(s, ticket)),
        ),
        NotificationKind::FollowingStarted { ticket, by } => c(
            format!("{product}: you follow {}", ticket.number),
            vec![
                format!("{by} added you as a follower of {} \u{201c}{}\u{201d}.", ticket.number, ticket.subject),
                "You will get its mails, and you can read and answer it on the help desk.".into(),
            ],
            None,
            Some(ticket_link(s, ticket)),
        ),
        NotificationKind::FollowedTicketChanged { ticket, change, text } => {
            let (what, says) = match change {
                MailTemplate::Approved => ("approved", "was approved and will be worked on."),
                MailTemplate::Rejected => ("rejected", "was rejected. The reason:"),
                MailTemplate::WaitingOnRequester => ("waiting on its requester", "waits on its requester:"),
                MailTemplate::Resolved => ("resolved", "was resolved:"),
                MailTemplate::Reopened => ("reopened", "was reopened. The reason:"),
                MailTemplate::Received | MailTemplate::Assigned => ("changed", "changed."),
            };
            c(
                format!("{product}: {} {what}", ticket.number),
                vec![format!("The ticket {} \u{201c}{}\u{201d} you follow {says}", ticket.number, ticket.subject)],
                Some(text.clone()).filter(|t| !t.trim().is_empty()),
                Some(ticket_link(s, ticket)),
            )
        }
        NotificationKind::TicketMerged { ticket, into, note } => c(
            format!("{product}: {} continues as {}", ticket.number, into.number),
            vec![
                format!(
                    "The ticket {} \u{201c}{}\u{201d} was merged into {} \u{201c}{}\u{201d}, where it goes on; you follow it there. The help desk wrote:",
                    ticket.number, ticket.subject, into.number, into.subject
                ),
            ],
            Some(note.clone()),
            Some(ticket_link(s, into)),
        ),
        NotificationKind::ServiceLevelAlert { ticket, alert } => {
            let target = match alert.target {
                TargetKind::FirstResponse => "first response",
                TargetKind::NextResponse => "next response",
                TargetKind::Resolution => "resolution",
            };
            let due = alert.due_at.map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string());
            let (subject, line) = if alert.state == TargetState::Breached {
                (
                    format!("{product}: {} is past its {target} target", ticket.number),
                    format!(
                        "The {target} target of {} \u{201c}{}\u{201d} was due {} and is not met.",
                        ticket.number,
                        ticket.subject,
                        due.map_or_else(|| "earlier".to_owned(), |d| format!("at {d}"))
                    ),
                )
            } else {
                (
                    format!("{product}: {} {target} due soon", ticket.number),
                    format!(
                        "The {target} target of {} \u{201c}{}\u{201d} is due {}.",
                        ticket.number,
                        ticket.subject,
                        due.map_or_else(|| "soon".to_owned(), |d| format!("at {d}"))
                    ),
                )
            };
            let policy = format!("Service-level policy: {}.", alert.policy);
            c(subject, vec![line, policy], None, Some(ticket_link(s, ticket)))
        }
        other => c(format!("{product}: {}", other.name().replace('_', " ")), Vec::new(), None, None),
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders `n` for the deployment `s`, as plain text and HTML.
pub fn render(s: &MailSettings, n: &Notification) -> RenderedMail {
    let c = content(s, &n.kind);
    let product = &s.product_name;
    let greeting = format!("Hello {},", n.to_name);

    let mut text = format!("{greeting}\n\n");
    for l in &c.lines {
        text.push_str(l);
        text.push_str("\n\n");
    }
    if let Some(q) = &c.quote {
        for l in q.lines() {
            text.push_str("> ");
            text.push_str(l);
            text.push('\n');
        }
        text.push('\n');
    }
    if let Some((label, url)) = &c.action {
        text.push_str(&format!("{label}: {url}\n\n"));
    }
    if let Some((question, answers)) = &c.choices {
        text.push_str(question);
        text.push('\n');
        for (label, url) in answers {
            text.push_str(&format!("{label}: {url}\n"));
        }
        text.push('\n');
    }
    text.push_str(&format!("-- \n{product}\n{}\n", s.public_url));

    let mut html = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n<body style=\"font-family:sans-serif;line-height:1.5;color:#222;max-width:40em\">\n",
    );
    if let Some(logo) = &s.logo_url {
        html.push_str(&format!(
            "<p><img src=\"{}\" alt=\"{}\" height=\"40\"></p>\n",
            escape_html(logo),
            escape_html(product)
        ));
    }
    html.push_str(&format!("<p>{}</p>\n", escape_html(&greeting)));
    for l in &c.lines {
        html.push_str(&format!("<p>{}</p>\n", escape_html(l)));
    }
    if let Some(q) = &c.quote {
        let body = escape_html(q).replace('\n', "<br>\n");
        html.push_str(&format!(
            "<blockquote style=\"border-left:3px solid #ccc;margin:0;padding-left:1em\">{body}</blockquote>\n"
        ));
    }
    if let Some((label, url)) = &c.action {
        html.push_str(&format!("<p><a href=\"{}\">{}</a></p>\n", escape_html(url), escape_html(label)));
    }
    if let Some((question, answers)) = &c.choices {
        html.push_str(&format!("<p>{}</p>\n<p>", escape_html(question)));
        for (label, url) in answers {
            html.push_str(&format!(
                "<a href=\"{}\" style=\"display:inline-block;margin-right:1em;padding:.4em 1em;border:1px solid #888;border-radius:4px;text-decoration:none\">{}</a>",
                escape_html(url),
                escape_html(label)
            ));
        }
        html.push_str("</p>\n");
    }
    html.push_str(&format!(
        "<hr>\n<p style=\"color:#666;font-size:small\">{} &middot; <a href=\"{}\">{}</a></p>\n</body></html>\n",
        escape_html(product),
        escape_html(&s.public_url),
        escape_html(&s.public_url)
    ));
    RenderedMail { subject: c.subject, text, html }
}
