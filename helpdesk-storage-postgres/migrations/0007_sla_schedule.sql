-- Service-level schedules (helpdesk_core::model::SlaSchedule): the ticket's document holds the
-- whole schedule; these columns and the alert table are what the "due soonest" sort, the
-- "breached" filter and the alert loop read, each through an index.
--
-- `sla_due_at` is set only while a target runs, so the partial indexes hold the active tickets
-- with a policy, not the whole history. `sla_alerts` lists the alert moments; a trigger keeps
-- one row per moment in `ticket_sla_alerts` (only when the list changes), so the alert loop
-- reads a time range of that table's primary key instead of every ticket's array.
ALTER TABLE tickets
    ADD COLUMN sla_due_at timestamptz,
    ADD COLUMN sla_alerts timestamptz[] NOT NULL DEFAULT '{}';

CREATE INDEX tickets_sla_due ON tickets (sla_due_at, id) WHERE sla_due_at IS NOT NULL;
CREATE INDEX tickets_status_sla_due ON tickets (status, sla_due_at, id) WHERE sla_due_at IS NOT NULL;

CREATE TABLE ticket_sla_alerts (
    at timestamptz NOT NULL,
    ticket_id uuid NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    PRIMARY KEY (at, ticket_id)
);
CREATE INDEX ticket_sla_alerts_ticket ON ticket_sla_alerts (ticket_id);

CREATE FUNCTION ticket_sla_alerts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM ticket_sla_alerts WHERE ticket_id = OLD.id;
    END IF;
    INSERT INTO ticket_sla_alerts (at, ticket_id)
        SELECT DISTINCT a, NEW.id FROM unnest(NEW.sla_alerts) AS a;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tickets_sla_alerts_insert AFTER INSERT ON tickets
    FOR EACH ROW WHEN (cardinality(NEW.sla_alerts) > 0) EXECUTE FUNCTION ticket_sla_alerts_sync();
CREATE TRIGGER tickets_sla_alerts_update AFTER UPDATE OF sla_alerts ON tickets
    FOR EACH ROW WHEN (OLD.sla_alerts IS DISTINCT FROM NEW.sla_alerts) EXECUTE FUNCTION ticket_sla_alerts_sync();
