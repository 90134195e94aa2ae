-- One index for the tickets in creation order: the performance report's covering index takes
-- the id into its key, so it also walks a list page by creation (the cursor is
-- `(created_at, id)`), and `tickets_by_created`, which held the same key without the report's
-- columns, goes. Every ticket write keeps one index fewer up to date (a ticket row alone
-- commits 1.06-1.08x faster with 26 indexes than with 27; BENCHMARKS.md, 2026-12-05).
DROP INDEX tickets_report;
CREATE INDEX tickets_report ON tickets (created_at, id) INCLUDE (department, priority, assignee, response_secs, resolution_secs);
DROP INDEX tickets_by_created;
