-- Coordinator queues sort a department's tickets by priority or last change, and employees
-- sort their own tickets by last change: composite indexes so those pages read ~50 rows
-- instead of sorting a department's hundreds of thousands.
CREATE INDEX tickets_department_priority ON tickets (department, priority_rank, id);
CREATE INDEX tickets_department_updated ON tickets (department, updated_at, id);
CREATE INDEX tickets_requester_updated ON tickets (requester, updated_at, id);
