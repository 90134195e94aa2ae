//! # helpdesk-core
//!
//! The embeddable help desk: domain values that parse, the ticket and account lifecycles,
//! the authorization policy, the ports (storage, mail, workflow, clock, attachments through
//! `object_store`), the [`HelpDesk`] service that runs every use case, and the outbox
//! dispatcher. Adapters (sled, PostgreSQL, SMTP, HTTP) live in their own crates and depend on
//! this one; this crate depends on no database, mail, HTTP or network crate.
//!
//! ## The default ticket lifecycle
//!
//! Generated from [`Lifecycle::default`] (a test keeps this copy in step with the code), to
//! check against SPEC §4:
//!
#![doc = include_str!("docs/lifecycle.md")]
//!
//! ## The default policy
//!
//! Generated from [`RulePolicy::default`] (default deny, deny wins; a test keeps it in step).
//! With `coordinators_limited_to_department` a last rule denies coordinators every ticket
//! permission outside their own department.
//!
#![doc = include_str!("docs/policy.md")]
#![warn(missing_docs)]

pub mod account;
pub mod archive;
pub mod domain;
mod error;
pub mod lifecycle;
pub mod mail_in;
pub mod model;
pub mod outbox;
pub mod password;
pub mod policy;
pub mod ports;
pub mod report;
mod service;
pub mod sla;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{AuthFailure, Error, FieldError, RatingLinkRefusal, Result, ValidationErrors};
pub use lifecycle::Lifecycle;
pub use outbox::{DispatchReport, OutboxDispatcher};
pub use policy::{Policy, RulePolicy};
pub use service::*;
