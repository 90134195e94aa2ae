-- Settings an admin saves through the API, one versioned JSON document per key (`sla`: the
-- service-level calendars and policies). A save names the version it replaces.
CREATE TABLE settings (
    key text PRIMARY KEY,
    version bigint NOT NULL CHECK (version >= 1),
    doc jsonb NOT NULL
);
