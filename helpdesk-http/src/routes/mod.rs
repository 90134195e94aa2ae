//! The routes, one file per area; each builds an `OpenApiRouter` so the OpenAPI document is
//! generated from the same handler signatures and types that serve requests.

pub(crate) mod actions;
pub(crate) mod admin;
pub(crate) mod attachments;
pub(crate) mod auth;
#[cfg(feature = "avatars")]
pub(crate) mod avatar_upload;
pub(crate) mod avatars;
pub(crate) mod bulk;
pub(crate) mod catalog;
pub(crate) mod custom_fields;
pub(crate) mod followers;
pub(crate) mod integrations;
pub(crate) mod links;
pub(crate) mod macros;
pub(crate) mod mail_in;
pub(crate) mod notifications;
pub(crate) mod ops;
pub(crate) mod ratings;
pub(crate) mod reports;
pub(crate) mod sla;
pub(crate) mod tickets;
pub(crate) mod users;
pub(crate) mod views;
