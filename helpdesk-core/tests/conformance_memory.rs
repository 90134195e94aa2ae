//! The in-memory store passes the whole conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::sync::Arc;

use helpdesk_core::ports::Store;
use helpdesk_core::testing::InMemoryStore;

helpdesk_core::store_conformance!(async { Arc::new(InMemoryStore::new()) as Arc<dyn Store> });
