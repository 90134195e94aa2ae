-- What one `POST /api/v1/tickets` asks of PostgreSQL, statement by statement, as the server
-- sends them (captured with `log_statement = all` on 2026-12-04; the custom fields' settings
-- row is read once in two seconds per process and left out): the session and user check, the
-- requester read for the receipt mail, the ticket number, the unit of work in one transaction,
-- the live-update notice, and the dispatcher marking the receipt delivered. `scripts/bench-http.sh`
-- runs it with pgbench on the benchmark's own database, after the HTTP workloads, as the
-- create's yardstick: what the database alone does with these statements on the same machine.
-- Variables: `-D sid=<a session id> -D uid=<its user's id>`.
-- pgbench reads `:name` as a variable even inside a string literal, so literals that need a
-- colon before a letter build it with `chr(58)`.
\set shard random(0, 15)
SELECT s.doc AS sdoc, u.doc AS udoc FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = :sid;
SELECT doc FROM users WHERE id = :uid;
SELECT nextval('ticket_number_seq') AS seq \gset
BEGIN;
INSERT INTO tickets (id, seq, requester, assignee, status, priority, department, category, subject, description, created_at, updated_at, resolved_at, response_secs, resolution_secs, version, doc, sla_due_at, sla_alerts, tags, followers, fields) VALUES (gen_random_uuid(), :seq, :uid, NULL, 'new', NULL, 'it', 'hardware', 'Load test ticket', 'Created by wrk for the HTTP benchmark.', now(), now(), NULL, NULL, NULL, 1, '{"id": "d16161d2-38af-4dbc-8d1d-627ed29ffa4a", "number": "TX0449", "status": "new", "subject": "Load test ticket", "version": 1, "assignee": null, "category": "hardware", "priority": null, "closed_at": null, "requester": "ea0d4fa3-941f-48f6-8678-c446e9623d6a", "created_at": "2026-12-04T20:45:29.137621Z", "department": "it", "updated_at": "2026-12-04T20:45:29.137621Z", "description": "Created by wrk for the HTTP benchmark.", "resolved_at": null, "sub_category": "laptop", "response_secs": null, "scheduled_date": null, "resolution_secs": null, "workflow_linked": false, "rejection_reason": null, "first_response_at": null}', NULL, '{}', '{}', '{}', '{}') RETURNING id AS tid \gset
INSERT INTO history_events (id, ticket_id, version, internal, doc) VALUES (gen_random_uuid(), :tid, 1, false, '{"at": "2026-12-04T20:45:29.137621Z", "id": "012724a6-9549-4d46-a0f2-cc7410a64988", "kind": {"type": "action", "action": "submit"}, "note": null, "actor": {"id": "ea0d4fa3-941f-48f6-8678-c446e9623d6a", "kind": "user"}, "ticket": "d16161d2-38af-4dbc-8d1d-627ed29ffa4a", "changes": [{"new": "new", "old": null, "field": "status"}], "version": 1, "internal": false}');
INSERT INTO outbox (id, created_at, state, attempts, next_attempt_at, payload) VALUES (gen_random_uuid(), now(), 'pending', 0, now(), '{"to": "emp@example.com", "kind": {"kind": "ticket_received", "ticket": {"number": "TX0449", "status": "new", "subject": "Load test ticket"}}, "channel": "mail", "to_name": "Em Ploy", "language": "en"}') RETURNING id AS oid \gset
INSERT INTO ticket_counts (key, shard, n) SELECT k, :shard, d FROM unnest(translate('{t;category;hardware,t;department;it,t;priority;untriaged,t;status;new,t;total}', ';', chr(58))::text[], '{1,1,1,1,1}'::bigint[]) AS x(k, d) ON CONFLICT (key, shard) DO UPDATE SET n = ticket_counts.n + EXCLUDED.n;
INSERT INTO ticket_facet_counts (facet, status, shard, n) SELECT f, st, CAST(:shard AS smallint), d FROM unnest(translate('{a;,c;hardware,d;it}', ';', chr(58))::text[], '{new,new,new}'::text[], '{1,1,1}'::bigint[]) AS x(f, st, d) ON CONFLICT (facet, status, shard) DO UPDATE SET n = ticket_facet_counts.n + EXCLUDED.n RETURNING facet, status, shard, n;
COMMIT;
SELECT pg_notify('helpdesk_changes', 'pgbench');
UPDATE outbox SET state = 'delivered', delivered_at = now(), lease_token = NULL, lease_until = NULL, last_error = NULL WHERE id = :oid AND state = 'pending';
