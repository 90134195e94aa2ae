-- How many tickets each facet a queue filters by on its own holds, per status: a priority
-- ('p:high'), a department ('d:it'), a category ('c:hardware'), an assignee ('a:<uuid>', and
-- 'a:' for nobody's), and each term of `ticket_terms` (a tag, a custom field value). Kept in
-- the same transaction as every ticket write, sharded like `ticket_counts` so that concurrent
-- writers rarely wait on one row.
--
-- The queue shows a count per status under its filters on every load; filtered by one facet
-- (a tag held by a tenth of 1,000,000 tickets, a department) PostgreSQL counted every matching
-- ticket each time, 0.5-0.6 s for the tag. With one facet, or several values of one of the
-- single-valued ones, the counts are a sum over these rows.
CREATE TABLE ticket_facet_counts (
    facet text NOT NULL,
    status text NOT NULL,
    shard smallint NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (facet, status, shard)
);

INSERT INTO ticket_facet_counts (facet, status, shard, n)
SELECT facet, status, 0, count(*)
FROM (
    SELECT status::text AS status, 'p:' || priority::text AS facet FROM tickets WHERE priority IS NOT NULL
    UNION ALL
    SELECT status::text, 'd:' || department FROM tickets WHERE department IS NOT NULL
    UNION ALL
    SELECT status::text, 'c:' || category FROM tickets
    UNION ALL
    SELECT status::text, 'a:' || coalesce(assignee::text, '') FROM tickets
    UNION ALL
    SELECT t.status::text, terms.term FROM ticket_terms AS terms JOIN tickets AS t ON t.id = terms.term_ticket
) AS facets
GROUP BY facet, status;
