//! helpdesk-http: built by its own issue; this crate is a documented placeholder until then.
