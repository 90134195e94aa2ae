-- Messages that came in by mail: one row per message, its identity (Message-ID or a hash of
-- its bytes) unique so a redelivery is recognised in every process; the admins' list reads
-- newest first, optionally by outcome.
CREATE TABLE inbound_messages (
    id uuid PRIMARY KEY,
    message_key text NOT NULL CONSTRAINT inbound_messages_key_key UNIQUE,
    received_at timestamptz NOT NULL,
    outcome text NOT NULL,
    version bigint NOT NULL,
    doc jsonb NOT NULL
);
CREATE INDEX inbound_messages_by_time ON inbound_messages (received_at DESC, id DESC);
CREATE INDEX inbound_messages_by_outcome ON inbound_messages (outcome, received_at DESC, id DESC);
