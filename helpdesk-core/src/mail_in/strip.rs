//! The new part of a reply: the text above the quoted history and the signature.
//!
//! Mail programs quote differently: Gmail and Thunderbird write "On <date>, <name> wrote:" (over
//! one or two lines) above `>`-quoted text, Outlook a rule or "-----Original Message-----" and a
//! "From:/Sent:" block without any quoting, Apple Mail and phones a "Sent from my …" line.
//! Signatures follow the "-- " line (RFC 3676). The full original is always kept, so cutting too
//! much loses nothing; cutting too little only shows some quoted text.

/// The reply's own text and whether anything was cut.
pub fn strip_reply(text: &str) -> (String, bool) {
    let text = text.replace("\r\n", "\n");
    let lines: Vec<&str> = text.lines().collect();
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        let next = lines.get(i + 1).map_or("", |l| l.trim());
        let wrote = |s: &str| {
            let s = s.trim_end();
            s.ends_with("wrote:") || s.ends_with("writes:") || s.ends_with("schrieb:") || s.ends_with("a écrit :")
        };
        let header_block = (t.starts_with("From:") || t.starts_with("*From:*"))
            && lines[i + 1..].iter().take(4).any(|l| {
                let l = l.trim();
                l.starts_with("Sent:") || l.starts_with("*Sent:*") || l.starts_with("Date:")
            });
        let cut = line.trim_end() == "--"
            || *line == "-- "
            || t.starts_with("-----Original Message-----")
            || t.starts_with("________________________________")
            || (t.starts_with("On ") && (wrote(t) || wrote(&format!("{t} {next}"))))
            || (t.starts_with("Am ") && wrote(t))
            || (t.starts_with("Le ") && wrote(t))
            || header_block
            || t.starts_with("Sent from my ")
            || t.starts_with("Get Outlook for ");
        if cut {
            end = i;
            break;
        }
    }
    // A trailing block of `>` lines (bottom-quoting without an attribution line).
    let mut kept: Vec<&str> = lines[..end].to_vec();
    while kept.last().is_some_and(|l| l.trim().is_empty() || l.trim_start().starts_with('>')) {
        kept.pop();
    }
    let out = kept.join("\n").trim().to_owned();
    let cut = out.len() < text.trim().len();
    if out.is_empty() {
        // Everything looked quoted: keep the message as it came rather than post nothing.
        return (text.trim().to_owned(), false);
    }
    (out, cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quoted_history_and_signature_of_common_mail_programs_are_cut() {
        let gmail = "Thanks, that fixed it.\n\nOn Mon, 30 Nov 2026 at 10:02, Help Desk <support@desk.example>\nwrote:\n> Your ticket TX0042 was resolved.\n";
        let thunderbird = "Still broken.\n\nOn 30/11/2026 10:02, Help Desk wrote:\n> Resolved.\n";
        let outlook = "Works now.\n\n________________________________\nFrom: Help Desk <support@desk.example>\nSent: Monday, November 30, 2026 10:02 AM\nTo: Ana\nSubject: TX0042\n\nResolved.";
        let outlook_old = "Works now.\n-----Original Message-----\nFrom: Help Desk\nSent: Monday\n";
        let signature = "See the log attached.\n\n-- \nAna Cruz\nFacilities";
        let phone = "OK\n\nSent from my iPhone";
        let bottom = "Yes please.\n\n> Shall we replace it?\n>\n";
        for (text, want) in [
            (gmail, "Thanks, that fixed it."),
            (thunderbird, "Still broken."),
            (outlook, "Works now."),
            (outlook_old, "Works now."),
            (signature, "See the log attached."),
            (phone, "OK"),
            (bottom, "Yes please."),
        ] {
            assert_eq!(strip_reply(text), (want.to_owned(), true), "{text}");
        }
        assert_eq!(strip_reply("Just text.\nTwo lines."), ("Just text.\nTwo lines.".to_owned(), false));
    }

    #[test]
    fn a_message_that_is_all_quote_is_kept_whole() {
        let (text, cut) = strip_reply("> only a quote\n> nothing new");
        assert_eq!(text, "> only a quote\n> nothing new");
        assert!(!cut);
    }
}
