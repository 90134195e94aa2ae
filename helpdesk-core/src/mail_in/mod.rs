//! Mail in: the pieces that read a message before the service acts on it.
//!
//! A message reaches [`HelpDesk::ingest_mail`](crate::HelpDesk::ingest_mail) by one of three
//! ways (an MTA pipe, an HTTP route, an IMAP poller), and all three run the same steps:
//! [`ParsedMail::parse`] reads it, [`rules::loop_reason`] leaves loops and floods alone,
//! [`ReplyToken`] and the `References` to our own Message-IDs find the ticket it answers,
//! [`rules::sender_authenticated`] (or the reply address, or a confirmation link) proves its
//! sender, and [`strip_reply`] keeps the new part of a reply.

mod parse;
mod reply_address;
pub mod rules;
mod strip;

pub use parse::{DeliveryReport, MailFile, ParseError, ParsedMail};
pub use reply_address::ReplyToken;
pub use rules::OwnIdentity;
pub use strip::strip_reply;
