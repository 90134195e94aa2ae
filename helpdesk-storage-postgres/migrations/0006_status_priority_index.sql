-- Queues filtered by several statuses and a priority, sorted by creation ("open or in progress,
-- high priority, oldest first"): the list statement reads one ordered branch per status, and
-- this index makes each branch a range scan. Without it PostgreSQL walked the creation index
-- through every newer ticket of another status (16 ms at 1,000,000 tickets; 0.5 ms with it).
CREATE INDEX tickets_status_priority_created ON tickets (status, priority, created_at, id);
