//! `helpdesk mail ingest`: the MTA pipe. Postfix (or any MTA) runs it once per message with the
//! message on standard input, like Request Tracker's `rt-mailgate`, and reads the exit code:
//! 0 accepted (filed, held or ignored: nothing more for the MTA to do), 75 (`EX_TEMPFAIL`) try
//! again later (nothing was recorded), 67 (`EX_NOUSER`) refused (too large, not a mail
//! message, or the key may not hand over mail): the MTA bounces it to its sender.
//!
//! Without `--url` it opens the configured store itself (PostgreSQL, where any number of
//! processes share it; sled only while no server runs). With `--url` it posts the message to a
//! running server's `POST /api/v1/mail/inbound` with the API key (scope `ingest_mail`) read from
//! `--key-file` or `$HELPDESK_INGEST_API_KEY`: the way in for a sled server, or for an MTA on
//! another machine.

use std::io::Read as _;
use std::process::ExitCode;

use helpdesk_core::Error;
use helpdesk_core::model::{InboundChannel, InboundOutcome};
use helpdesk_core::policy::Principal;
use helpdesk_http::config::Config;

/// Accepted.
const OK: u8 = 0;
/// `EX_NOUSER`: refused for good.
const REFUSED: u8 = 67;
/// `EX_TEMPFAIL`: try again later.
const TEMPFAIL: u8 = 75;

/// The environment variable holding the API key for `--url`.
pub(crate) const KEY_VAR: &str = "HELPDESK_INGEST_API_KEY";

pub(crate) async fn ingest(config: &Config, url: Option<String>, key_file: Option<std::path::PathBuf>) -> ExitCode {
    let limit = config.mail_in.max_message_kib.saturating_mul(1024);
    let mut raw = Vec::new();
    if let Err(e) = std::io::stdin().lock().take(limit + 1).read_to_end(&mut raw) {
        eprintln!("helpdesk mail ingest: reading the message: {e}");
        return ExitCode::from(TEMPFAIL);
    }
    if raw.len() as u64 > limit {
        eprintln!("helpdesk mail ingest: refused: the message is larger than {limit} bytes (mail_in.max_message_kib)");
        return ExitCode::from(REFUSED);
    }
    let code = match url {
        Some(url) => post(&url, key_file.as_deref(), raw).await,
        None => direct(config, &raw).await,
    };
    ExitCode::from(code)
}

async fn direct(config: &Config, raw: &[u8]) -> u8 {
    let desk = match crate::desk(config).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!(
                "helpdesk mail ingest: cannot open the help desk (try again later, or use --url with a running server): {e:#}"
            );
            return TEMPFAIL;
        }
    };
    match desk.ingest_mail(&Principal::System, raw, InboundChannel::Pipe).await {
        Ok(r) => {
            let what = match &r.outcome {
                InboundOutcome::Ticket { number } => format!("opened {number}"),
                InboundOutcome::Comment { number } => format!("commented on {number}"),
                other => other.name().to_owned(),
            };
            eprintln!(
                "helpdesk mail ingest: {}{what} ({})",
                if r.duplicate { "duplicate, earlier: " } else { "" },
                r.id
            );
            OK
        }
        Err(e @ (Error::TooLarge(_) | Error::Validation(_) | Error::Forbidden(_))) => {
            eprintln!("helpdesk mail ingest: refused: {e}");
            REFUSED
        }
        Err(e) => {
            eprintln!("helpdesk mail ingest: try again later: {e}");
            TEMPFAIL
        }
    }
}

async fn post(url: &str, key_file: Option<&std::path::Path>, raw: Vec<u8>) -> u8 {
    let key = match key_file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display())),
        None => std::env::var(KEY_VAR).map_err(|_| format!("${KEY_VAR} is not set")),
    };
    let key = match key {
        Ok(k) => k,
        Err(e) => {
            eprintln!(
                "helpdesk mail ingest: --url needs an API key with the ingest_mail scope (--key-file or ${KEY_VAR}): {e}"
            );
            return TEMPFAIL;
        }
    };
    let endpoint = format!("{}/api/v1/mail/inbound", url.trim_end_matches('/'));
    let client = match reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("helpdesk mail ingest: {e}");
            return TEMPFAIL;
        }
    };
    let sent = client
        .post(&endpoint)
        .header("Authorization", format!("ApiKey {}", key.trim()))
        .header("Content-Type", "message/rfc822")
        .body(raw)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => {
            eprintln!("helpdesk mail ingest: {}", r.text().await.unwrap_or_default());
            OK
        }
        Ok(r) if matches!(r.status().as_u16(), 401 | 403 | 413 | 422) => {
            eprintln!("helpdesk mail ingest: refused ({}): {}", r.status(), r.text().await.unwrap_or_default());
            REFUSED
        }
        Ok(r) => {
            eprintln!("helpdesk mail ingest: try again later ({}): {}", r.status(), r.text().await.unwrap_or_default());
            TEMPFAIL
        }
        Err(e) => {
            eprintln!("helpdesk mail ingest: try again later: {endpoint}: {e}");
            TEMPFAIL
        }
    }
}
