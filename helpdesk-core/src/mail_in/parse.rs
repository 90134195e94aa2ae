//! One RFC 5322 message, read with `mail-parser` into what the help desk needs: who it claims
//! to be from, what it answers, the headers the loop rules and the sender check read, its text
//! (an HTML-only message turned into plain text, so no markup ever reaches a page), and its
//! attachments as bytes. Nothing here is trusted yet: [`super::rules`] decides.

use mail_parser::{MessageParser, MimeHeaders, PartType};

/// A file a message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFile {
    /// The name it gave (or one made from its type), unsanitised.
    pub file_name: String,
    /// The decoded bytes.
    pub bytes: Vec<u8>,
    /// Shown inline by the sender's mail program (a pasted image).
    pub inline: bool,
}

/// What a delivery status report says about one of our messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The recipients whose delivery failed (`Action: failed`).
    pub failed_recipients: Vec<String>,
    /// The Message-ID of the message that failed, when the report quotes it.
    pub original_message_id: Option<String>,
}

/// A parsed message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedMail {
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// The From address, lower case.
    pub from: Option<String>,
    /// The From display name.
    pub from_name: Option<String>,
    /// The subject, decoded (empty when missing).
    pub subject: String,
    /// `In-Reply-To` then `References`, without angle brackets, lower case.
    pub references: Vec<String>,
    /// Every address it was delivered to: `To`, `Cc`, `Delivered-To`, `X-Original-To`, lower
    /// case.
    pub recipients: Vec<String>,
    /// `Auto-Submitted`, lower case.
    pub auto_submitted: Option<String>,
    /// `Precedence`, lower case.
    pub precedence: Option<String>,
    /// True when it carries a mailing list's headers (`List-Id`, `List-Unsubscribe`).
    pub list: bool,
    /// True when the return path is empty (`Return-Path: <>`): a bounce or another automatic
    /// message.
    pub null_return_path: bool,
    /// `X-Autoreply`, `X-Autorespond` or `X-Auto-Response-Suppress` present.
    pub autoreply_headers: bool,
    /// Every `Authentication-Results` header, topmost first.
    pub authentication_results: Vec<String>,
    /// The text body.
    pub text: String,
    /// The files.
    pub files: Vec<MailFile>,
    /// For a delivery status report (`multipart/report; report-type=delivery-status`).
    pub report: Option<DeliveryReport>,
}

/// A message that cannot be read as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a mail message: {0}")]
pub struct ParseError(pub &'static str);

fn strip_brackets(id: &str) -> String {
    id.trim().trim_start_matches('<').trim_end_matches('>').trim().to_ascii_lowercase()
}

fn extension_for(ctype: &str, subtype: &str) -> &'static str {
    match (ctype, subtype) {
        ("image", "png") => "png",
        ("image", "jpeg" | "jpg") => "jpg",
        ("image", "gif") => "gif",
        ("image", "webp") => "webp",
        ("application", "pdf") => "pdf",
        ("message", "rfc822") => "eml",
        ("text", "plain") => "txt",
        ("text", "csv") => "csv",
        _ => "bin",
    }
}

impl ParsedMail {
    /// Reads `raw`.
    ///
    /// # Errors
    /// [`ParseError`] when it has no header at all.
    pub fn parse(raw: &[u8]) -> Result<Self, ParseError> {
        let msg = MessageParser::default().parse(raw).ok_or(ParseError("no header"))?;
        if msg.headers().is_empty() {
            return Err(ParseError("no header"));
        }
        let mut out = ParsedMail {
            message_id: msg.message_id().map(strip_brackets).filter(|s| !s.is_empty()),
            subject: msg.subject().unwrap_or_default().trim().to_owned(),
            ..Self::default()
        };
        if let Some(from) = msg.from().and_then(|a| a.first()) {
            out.from = from.address().map(|a| a.trim().to_ascii_lowercase()).filter(|a| a.contains('@'));
            out.from_name = from.name().map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        }
        for v in [msg.in_reply_to(), msg.references()] {
            if let Some(list) = v.as_text_list() {
                out.references.extend(list.iter().map(|s| strip_brackets(s)));
            } else if let Some(one) = v.as_text() {
                out.references.extend(one.split_whitespace().map(strip_brackets));
            }
        }
        out.references.retain(|r| !r.is_empty());
        for a in msg.to().into_iter().chain(msg.cc()).flat_map(|a| a.iter()) {
            if let Some(addr) = a.address() {
                out.recipients.push(addr.trim().to_ascii_lowercase());
            }
        }
        for (name, value) in msg.headers_raw() {
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "delivered-to" | "x-original-to" | "envelope-to" => {
                    out.recipients.push(strip_brackets(value));
                }
                "auto-submitted" => out.auto_submitted = Some(value.to_ascii_lowercase()),
                "precedence" => out.precedence = Some(value.to_ascii_lowercase()),
                "list-id" | "list-unsubscribe" => out.list = true,
                "return-path" => out.null_return_path |= value.trim_matches(['<', '>', ' ']).is_empty(),
                "x-autoreply" | "x-autorespond" | "x-auto-response-suppress" => out.autoreply_headers = true,
                "authentication-results" => out.authentication_results.push(unfold(value)),
                _ => {}
            }
        }
        out.text = msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
        let root_type = msg.root_part().content_type();
        let is_report = root_type.is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
                && ct.attribute("report-type").is_some_and(|r| r.eq_ignore_ascii_case("delivery-status"))
        });
        if is_report {
            out.report = Some(delivery_report(&msg));
        } else {
            for (n, part) in msg.attachments().enumerate() {
                let (ctype, subtype) = part
                    .content_type()
                    .map(|ct| (ct.ctype().to_ascii_lowercase(), ct.subtype().unwrap_or("").to_ascii_lowercase()))
                    .unwrap_or_else(|| ("application".into(), "octet-stream".into()));
                let file_name = part
                    .attachment_name()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("attachment-{}.{}", n + 1, extension_for(&ctype, &subtype)));
                let inline = matches!(part.body, PartType::InlineBinary(_))
                    || part.content_disposition().is_some_and(|d| d.ctype().eq_ignore_ascii_case("inline"));
                out.files.push(MailFile { file_name, bytes: part.contents().to_vec(), inline });
            }
        }
        Ok(out)
    }

    /// The From address's domain.
    pub fn from_domain(&self) -> Option<&str> {
        self.from.as_deref().and_then(|f| f.rsplit_once('@')).map(|(_, d)| d)
    }
}

fn unfold(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads the `message/delivery-status` part (`Final-Recipient`, `Action`) and the returned
/// message or its headers (`Message-ID`).
fn delivery_report(msg: &mail_parser::Message<'_>) -> DeliveryReport {
    let mut report = DeliveryReport::default();
    for part in &msg.parts {
        let Some(ct) = part.content_type() else { continue };
        let ctype = ct.ctype().to_ascii_lowercase();
        let subtype = ct.subtype().unwrap_or("").to_ascii_lowercase();
        match (ctype.as_str(), subtype.as_str()) {
            ("message", "delivery-status" | "global-delivery-status") => {
                let text = String::from_utf8_lossy(part.contents());
                // One block per recipient, separated by blank lines.
                for block in text.replace("\r\n", "\n").split("\n\n") {
                    let field = |name: &str| {
                        block.lines().find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                        })
                    };
                    let failed = field("Action").is_some_and(|a| a.eq_ignore_ascii_case("failed"));
                    if let (true, Some(rcpt)) =
                        (failed, field("Final-Recipient").or_else(|| field("Original-Recipient")))
                    {
                        let addr = rcpt.rsplit(';').next().unwrap_or("").trim().to_ascii_lowercase();
                        if addr.contains('@') {
                            report.failed_recipients.push(addr);
                        }
                    }
                }
            }
            ("message", "rfc822" | "global") => {
                if let Some(inner) = part.message() {
                    report.original_message_id = inner.message_id().map(strip_brackets);
                }
            }
            ("text", "rfc822-headers") | ("message", "global-headers") => {
                let text = String::from_utf8_lossy(part.contents());
                report.original_message_id = text.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim().eq_ignore_ascii_case("message-id").then(|| strip_brackets(v))
                });
            }
            _ => {}
        }
    }
    report
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn reads_the_headers_the_rules_need() {
        let raw = b"From: Ana Cruz <Ana@Example.com>\r\nTo: support+abc@desk.example\r\nCc: ben@example.com\r\n\
Subject: =?UTF-8?B?UHLDvGZ1bmc=?=\r\nMessage-ID: <X1@mail.example.com>\r\nIn-Reply-To: <ticket.TX0042@desk.example>\r\n\
References: <a@b> <ticket.TX0042@desk.example>\r\nAuto-Submitted: auto-replied\r\nPrecedence: Bulk\r\n\
Authentication-Results: mx.desk.example;\r\n dmarc=pass header.from=example.com\r\n\r\nHello\r\n";
        let m = ParsedMail::parse(raw).unwrap();
        assert_eq!(m.message_id.as_deref(), Some("x1@mail.example.com"));
        assert_eq!(m.from.as_deref(), Some("ana@example.com"));
        assert_eq!(m.from_name.as_deref(), Some("Ana Cruz"));
        assert_eq!(m.subject, "Prüfung");
        assert_eq!(m.references, ["ticket.tx0042@desk.example", "a@b", "ticket.tx0042@desk.example"]);
        assert_eq!(m.recipients, ["support+abc@desk.example", "ben@example.com"]);
        assert_eq!(m.auto_submitted.as_deref(), Some("auto-replied"));
        assert_eq!(m.precedence.as_deref(), Some("bulk"));
        assert_eq!(m.authentication_results, ["mx.desk.example; dmarc=pass header.from=example.com"]);
        assert_eq!(m.text.trim(), "Hello");
    }

    #[test]
    fn an_html_only_message_becomes_text_without_markup() {
        let raw = b"From: a@example.com\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<html><body><p>Hi <b>there</b></p><script>alert(1)</script></body></html>\r\n";
        let m = ParsedMail::parse(raw).unwrap();
        assert!(m.text.contains("Hi there"), "{}", m.text);
        assert!(!m.text.contains('<'), "{}", m.text);
    }

    #[test]
    fn garbage_without_headers_is_refused() {
        assert!(ParsedMail::parse(b"").is_err());
    }
}
