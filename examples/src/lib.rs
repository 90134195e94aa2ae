//! Runnable programs that embed helpdesk in a plain Rust program:
//!
//! - `cargo run -p helpdesk-examples --example embed_sled`: the library on the embedded sled
//!   store, the whole ticket story without any server;
//! - `cargo run -p helpdesk-examples --example custom_policy`: a custom policy (an auditor
//!   role that reads everything and changes nothing) and a custom workflow sink, delivered by
//!   the outbox dispatcher;
//! - `tests/mock_adapters.rs`: a test that checks, with `mockall` mocks of the ports, which
//!   mail a use case sends.

// The README's Rust blocks are compiled and run as doc tests of this crate, so the embedding
// guide cannot drift from the library.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
