//! Runnable examples of embedding helpdesk (see the issue for each adapter).
