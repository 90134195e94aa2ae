-- How many tickets each facet a queue filters by on its own holds, per status: a priority
-- ('p:high'), a department ('d:it'), a category ('c:hardware'), an assignee ('a:<uuid>', and
-- 'a:' for nobody's), and each term of `ticket_terms` (a tag, a custom field value). Kept in
-- the same transaction as every ticket write, in 16 shards so that concurrent writers rarely
-- wait on one row. A ticket's counts always move in its own shard (the last hex digit of its
-- id), so a row whose tickets all left it reaches zero and is removed.
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
SELECT facet, status, (position(right(id::text, 1) IN '0123456789abcdef') - 1)::smallint AS shard, count(*)
FROM (
    SELECT id, status::text AS status, 'p:' || priority::text AS facet FROM tickets WHERE priority IS NOT NULL
    UNION ALL
    SELECT id, status::text, 'd:' || department FROM tickets WHERE department IS NOT NULL
    UNION ALL
    SELECT id, status::text, 'c:' || category FROM tickets
    UNION ALL
    SELECT id, status::text, 'a:' || coalesce(assignee::text, '') FROM tickets
    UNION ALL
    SELECT t.id, t.status::text, terms.term FROM ticket_terms AS terms JOIN tickets AS t ON t.id = terms.term_ticket
) AS facets
GROUP BY facet, status, shard;
