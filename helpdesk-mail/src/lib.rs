//! helpdesk-mail: built by its own issue; this crate is a documented placeholder until then.
