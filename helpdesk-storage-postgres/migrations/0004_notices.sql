-- In-app notifications: one row per notice, per user, newest first; the partial index keeps
-- the bell's unread count to the unread rows of one user.
CREATE TABLE notices (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    created_at timestamptz NOT NULL,
    read_at timestamptz,
    doc jsonb NOT NULL
);
CREATE INDEX notices_by_user ON notices (user_id, created_at DESC, id DESC);
CREATE INDEX notices_unread ON notices (user_id) WHERE read_at IS NULL;
CREATE INDEX notices_by_time ON notices (created_at);

-- A user's history on the admin's user page: the audit entries about one target.
CREATE INDEX audit_by_target ON audit_log ((doc->>'target'), at DESC, id DESC);
