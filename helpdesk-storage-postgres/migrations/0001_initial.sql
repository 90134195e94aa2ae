-- helpdesk schema 1: every record of helpdesk-core's storage port.
--
-- Rows keep the full record as `doc` (JSON of the core type, decoded by the adapter) next to
-- typed columns that the database checks and indexes: statuses and roles are enums, unique
-- fields are constraints, every list filter and sort has an index. Applied migrations are
-- never edited; changes come as new files.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TYPE user_role AS ENUM ('employee', 'coordinator', 'admin');
CREATE TYPE user_status AS ENUM ('pending', 'approved', 'deactivated');
CREATE TYPE ticket_status AS ENUM ('new', 'open', 'in_progress', 'on_hold', 'pending', 'resolved', 'closed', 'rejected', 'withdrawn');
CREATE TYPE ticket_priority AS ENUM ('critical', 'high', 'medium', 'low');
CREATE TYPE outbox_state AS ENUM ('pending', 'delivered', 'dead');
CREATE TYPE token_purpose AS ENUM ('password_reset', 'invitation');

-- Users: email stored lower-cased, so uniqueness is case-insensitive.
CREATE TABLE users (
    id uuid PRIMARY KEY,
    email text NOT NULL CHECK (email = lower(email)),
    company_id text NOT NULL,
    department text,
    role user_role NOT NULL,
    status user_status NOT NULL,
    created_at timestamptz NOT NULL,
    version bigint NOT NULL CHECK (version >= 1),
    doc jsonb NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_company_id_key UNIQUE (company_id)
);
CREATE INDEX users_by_created ON users (created_at DESC, id DESC);
CREATE INDEX users_by_role ON users (role, created_at DESC, id DESC);
CREATE INDEX users_by_status ON users (status, created_at DESC, id DESC);

-- The ticket number counter: one row, incremented atomically; durable with its commit, so a
-- crash never reuses a number and never jumps (a sequence may skip up to 32 after a crash).
CREATE TABLE ticket_counter (
    id smallint PRIMARY KEY CHECK (id = 1),
    value bigint NOT NULL CHECK (value >= 0)
);
INSERT INTO ticket_counter (id, value) VALUES (1, 0);

CREATE TABLE tickets (
    id uuid PRIMARY KEY,
    seq bigint NOT NULL CHECK (seq >= 1),
    requester uuid NOT NULL REFERENCES users (id),
    assignee uuid REFERENCES users (id),
    status ticket_status NOT NULL,
    priority ticket_priority,
    priority_rank smallint NOT NULL GENERATED ALWAYS AS (
        CASE priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END
    ) STORED,
    department text,
    category text NOT NULL,
    subject text NOT NULL,
    description text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    resolved_at timestamptz,
    response_secs bigint,
    resolution_secs bigint,
    version bigint NOT NULL CHECK (version >= 1),
    doc jsonb NOT NULL,
    CONSTRAINT tickets_seq_key UNIQUE (seq)
);
-- Sorts (id breaks ties).
CREATE INDEX tickets_by_created ON tickets (created_at, id);
CREATE INDEX tickets_by_updated ON tickets (updated_at, id);
CREATE INDEX tickets_by_priority ON tickets (priority_rank, id);
-- Filters, each with the default sort; status (the triage queue) with every sort.
CREATE INDEX tickets_status_created ON tickets (status, created_at, id);
CREATE INDEX tickets_status_updated ON tickets (status, updated_at, id);
CREATE INDEX tickets_status_priority ON tickets (status, priority_rank, id);
CREATE INDEX tickets_status_seq ON tickets (status, seq);
CREATE INDEX tickets_priority_created ON tickets (priority, created_at, id);
CREATE INDEX tickets_department_created ON tickets (department, created_at, id);
CREATE INDEX tickets_category_created ON tickets (category, created_at, id);
CREATE INDEX tickets_requester_created ON tickets (requester, created_at, id);
CREATE INDEX tickets_assignee_created ON tickets (assignee, created_at, id);
-- Auto-close and reports.
CREATE INDEX tickets_resolved ON tickets (resolved_at) WHERE resolved_at IS NOT NULL;
-- Case-insensitive substring search (ILIKE) on subject and description.
CREATE INDEX tickets_subject_trgm ON tickets USING gin (subject gin_trgm_ops);
CREATE INDEX tickets_description_trgm ON tickets USING gin (description gin_trgm_ops);

-- Maintained counts for the summary report, sharded so concurrent writers rarely touch the
-- same row; the report sums the shards.
CREATE TABLE ticket_counts (
    key text NOT NULL,
    shard smallint NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (key, shard)
);

CREATE TABLE history_events (
    ord bigserial PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    ticket_id uuid NOT NULL REFERENCES tickets (id),
    version bigint NOT NULL,
    internal boolean NOT NULL,
    doc jsonb NOT NULL
);
CREATE INDEX history_by_ticket ON history_events (ticket_id, version, ord);

CREATE TABLE comments (
    ord bigserial PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    ticket_id uuid NOT NULL REFERENCES tickets (id),
    internal boolean NOT NULL,
    created_at timestamptz NOT NULL,
    doc jsonb NOT NULL
);
CREATE INDEX comments_by_ticket ON comments (ticket_id, created_at, ord);

CREATE TABLE attachments (
    id uuid PRIMARY KEY,
    ticket_id uuid NOT NULL REFERENCES tickets (id),
    comment_id uuid REFERENCES comments (id),
    internal boolean NOT NULL,
    storage_key text NOT NULL UNIQUE,
    size bigint NOT NULL CHECK (size >= 0),
    created_at timestamptz NOT NULL,
    doc jsonb NOT NULL
);
CREATE INDEX attachments_by_ticket ON attachments (ticket_id, created_at, id);

CREATE TABLE outbox (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL,
    state outbox_state NOT NULL,
    attempts integer NOT NULL CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL,
    lease_token uuid,
    lease_until timestamptz,
    delivered_at timestamptz,
    last_error text,
    payload jsonb NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_by_state ON outbox (state, created_at, id);

CREATE TABLE audit_log (
    id uuid PRIMARY KEY,
    at timestamptz NOT NULL,
    kind text NOT NULL,
    doc jsonb NOT NULL
);
CREATE INDEX audit_by_time ON audit_log (at DESC, id DESC);
CREATE INDEX audit_by_kind ON audit_log (kind, at DESC, id DESC);

-- Rejected registrations: the audit trail that outlives the deleted account.
CREATE TABLE rejections (
    id uuid PRIMARY KEY,
    rejected_at timestamptz NOT NULL,
    doc jsonb NOT NULL
);
CREATE INDEX rejections_by_time ON rejections (rejected_at DESC, id DESC);

CREATE TABLE one_time_tokens (
    hash bytea PRIMARY KEY,
    purpose token_purpose NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    doc jsonb NOT NULL
);

CREATE TABLE sessions (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    revoked_at timestamptz,
    idle_expires_at timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL,
    doc jsonb NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Every refresh token of a session family; `used` ones revoke the family when presented.
CREATE TABLE refresh_tokens (
    hash bytea PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    used boolean NOT NULL
);
CREATE INDEX refresh_by_session ON refresh_tokens (session_id);

CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL,
    doc jsonb NOT NULL
);

CREATE TABLE idempotency (
    principal text NOT NULL,
    key text NOT NULL,
    request_hash text NOT NULL,
    response jsonb,
    started_at timestamptz NOT NULL,
    expires_at timestamptz,
    PRIMARY KEY (principal, key)
);

CREATE TABLE login_failures (
    key text PRIMARY KEY,
    count integer NOT NULL CHECK (count >= 0),
    last_at timestamptz
);

CREATE TABLE rate_windows (
    key text NOT NULL,
    window_start timestamptz NOT NULL,
    count bigint NOT NULL,
    PRIMARY KEY (key, window_start)
);
