//! The rules a message meets before anything is written for it: is it a loop or a flood
//! (RFC 3834's `Auto-Submitted`, `Precedence`, mailer daemons, our own addresses and our own
//! Message-IDs), and does anything prove its sender (the trusted MTA's `Authentication-Results`,
//! RFC 8601).

use super::ParsedMail;
use crate::model::IgnoreReason;

/// What counts as "ours" for the loop rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnIdentity {
    /// The help desk's own addresses (the support address, the From address of its mail),
    /// lower case.
    pub addresses: Vec<String>,
    /// The domain of our Message-IDs (`<id@domain>`), lower case.
    pub message_id_domain: String,
}

impl OwnIdentity {
    fn is_own_address(&self, addr: &str) -> bool {
        let (local, domain) = addr.rsplit_once('@').unwrap_or((addr, ""));
        let base = local.split_once('+').map_or(local, |(b, _)| b);
        self.addresses.iter().any(|own| {
            own == addr || own.rsplit_once('@').is_some_and(|(l, d)| l == base && d.eq_ignore_ascii_case(domain))
        })
    }

    /// True for one of our own Message-IDs (`…@<message_id_domain>`).
    pub fn is_own_message_id(&self, id: &str) -> bool {
        !self.message_id_domain.is_empty()
            && id.rsplit_once('@').is_some_and(|(_, d)| d.eq_ignore_ascii_case(&self.message_id_domain))
    }
}

/// True for a mailer daemon's or postmaster's address.
fn is_daemon(addr: &str) -> bool {
    let local = addr.split('@').next().unwrap_or("");
    ["mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"].iter().any(|d| local.eq_ignore_ascii_case(d))
}

/// Why `mail` must be left alone, or `None` when it may be processed. A delivery report about
/// one of our messages is [`IgnoreReason::Bounce`] (the caller records the failing recipient);
/// any other message from a daemon, or with an empty return path, is
/// [`IgnoreReason::MailerDaemon`].
pub fn loop_reason(mail: &ParsedMail, own: &OwnIdentity) -> Option<IgnoreReason> {
    if let Some(report) = &mail.report {
        let ours = report.original_message_id.as_deref().is_some_and(|id| own.is_own_message_id(id));
        return Some(if ours { IgnoreReason::Bounce } else { IgnoreReason::MailerDaemon });
    }
    if mail.message_id.as_deref().is_some_and(|id| own.is_own_message_id(id)) {
        return Some(IgnoreReason::OwnMessage);
    }
    if mail.from.as_deref().is_some_and(|f| own.is_own_address(f)) {
        return Some(IgnoreReason::OwnAddress);
    }
    if mail.from.as_deref().is_some_and(is_daemon) || mail.null_return_path {
        return Some(IgnoreReason::MailerDaemon);
    }
    if mail.auto_submitted.as_deref().is_some_and(|a| a != "no") || mail.autoreply_headers {
        return Some(IgnoreReason::AutoSubmitted);
    }
    if mail.precedence.as_deref().is_some_and(|p| matches!(p, "bulk" | "list" | "junk")) || mail.list {
        return Some(IgnoreReason::Bulk);
    }
    None
}

/// True when the topmost `Authentication-Results` header written by one of the `trusted`
/// authentication services (its authserv-id, RFC 8601 §2.5) says DMARC passed for the From
/// domain, or DKIM passed for a signing domain aligned with it (the same domain or a parent of
/// it). Headers from anyone else are ignored: a sender can write any header it likes, and only
/// the receiving MTA's own (it removes forged copies of its id) is evidence.
pub fn sender_authenticated(mail: &ParsedMail, trusted: &[String]) -> bool {
    let Some(from_domain) = mail.from_domain() else { return false };
    let Some(header) = mail.authentication_results.iter().find(|h| {
        let id = h.split(';').next().unwrap_or("").split_whitespace().next().unwrap_or("");
        trusted.iter().any(|t| t.eq_ignore_ascii_case(id))
    }) else {
        return false;
    };
    let aligned = |d: &str| {
        let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
        !d.is_empty() && (from_domain == d || from_domain.ends_with(&format!(".{d}")))
    };
    header.split(';').skip(1).any(|result| {
        let mut words = result.split_whitespace();
        let Some(method) = words.next() else { return false };
        let props: Vec<(&str, &str)> = words.filter_map(|w| w.split_once('=')).collect();
        let prop = |name: &str| props.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v);
        match method.to_ascii_lowercase().as_str() {
            "dmarc=pass" => prop("header.from").is_none_or(|d| d.eq_ignore_ascii_case(from_domain)),
            "dkim=pass" => prop("header.d")
                .or_else(|| prop("header.i"))
                .is_some_and(|d| aligned(d.rsplit_once('@').map_or(d, |(_, dom)| dom))),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn mail(headers: &str) -> ParsedMail {
        ParsedMail::parse(format!("{headers}\r\n\r\nbody\r\n").as_bytes()).unwrap()
    }

    fn own() -> OwnIdentity {
        OwnIdentity {
            addresses: vec!["support@desk.example".into(), "helpdesk@desk.example".into()],
            message_id_domain: "desk.example".into(),
        }
    }

    #[test]
    fn loops_and_floods_are_recognised() {
        let cases = [
            ("From: a@x.com\r\nAuto-Submitted: auto-replied", Some(IgnoreReason::AutoSubmitted)),
            ("From: a@x.com\r\nAuto-Submitted: no", None),
            ("From: a@x.com\r\nX-Autoreply: yes", Some(IgnoreReason::AutoSubmitted)),
            ("From: a@x.com\r\nPrecedence: junk", Some(IgnoreReason::Bulk)),
            ("From: a@x.com\r\nList-Id: <team.x.com>", Some(IgnoreReason::Bulk)),
            ("From: MAILER-DAEMON@x.com", Some(IgnoreReason::MailerDaemon)),
            ("From: a@x.com\r\nReturn-Path: <>", Some(IgnoreReason::MailerDaemon)),
            ("From: support+abc@desk.example", Some(IgnoreReason::OwnAddress)),
            ("From: a@x.com\r\nMessage-ID: <1234@desk.example>", Some(IgnoreReason::OwnMessage)),
            ("From: a@x.com\r\nMessage-ID: <1234@x.com>", None),
        ];
        for (headers, want) in cases {
            assert_eq!(loop_reason(&mail(headers), &own()), want, "{headers}");
        }
    }

    #[test]
    fn only_the_trusted_mta_can_vouch_for_a_sender() {
        let trusted = vec!["mx.desk.example".to_owned()];
        let yes = [
            "From: a@x.com\r\nAuthentication-Results: mx.desk.example; dmarc=pass header.from=x.com",
            "From: a@x.com\r\nAuthentication-Results: mx.desk.example 1; spf=fail; dkim=pass header.d=x.com",
            "From: a@mail.x.com\r\nAuthentication-Results: mx.desk.example; dkim=pass header.i=@x.com",
        ];
        let no = [
            "From: a@x.com",
            "From: a@x.com\r\nAuthentication-Results: evil.example; dmarc=pass header.from=x.com",
            "From: a@x.com\r\nAuthentication-Results: mx.desk.example; dmarc=fail header.from=x.com",
            "From: a@x.com\r\nAuthentication-Results: mx.desk.example; dmarc=pass header.from=y.com",
            "From: a@x.com\r\nAuthentication-Results: mx.desk.example; dkim=pass header.d=evilx.com",
            "From: a@x.com\r\nAuthentication-Results: mx.desk.example; spf=pass smtp.mailfrom=x.com",
            // The topmost header of the trusted MTA is the one that counts.
            "From: a@x.com\r\nAuthentication-Results: mx.desk.example; dmarc=fail\r\n\
             Authentication-Results: mx.desk.example; dmarc=pass header.from=x.com",
        ];
        for h in yes {
            assert!(sender_authenticated(&mail(h), &trusted), "{h}");
        }
        for h in no {
            assert!(!sender_authenticated(&mail(h), &trusted), "{h}");
        }
    }
}
