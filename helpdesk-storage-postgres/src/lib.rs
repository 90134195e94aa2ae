//! helpdesk-storage-postgres: built by its own issue; this crate is a documented placeholder until then.
