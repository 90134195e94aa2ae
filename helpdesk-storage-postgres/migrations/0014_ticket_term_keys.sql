-- Each term's tickets in the order of a custom field that sorts: one row per (term, field,
-- ticket) for every field of the ticket whose value sorts (a number, a date, a checkbox) and
-- every term of the ticket (`ticket_terms`), plus the term '' that every ticket carries. Kept
-- by every ticket write, with the key as core's `FieldValue::sort_key` computes it.
--
-- A page sorted by a custom field walks the primary key of one term (the first the list
-- requires, or '') in the field's order, checks the other filters on each ticket, and stops
-- at the page, instead of collecting every ticket that passes the filters and sorting them
-- all (at 1,000,000 tickets, a 5% field value and a 10% tag: 4,994 tickets read and sorted for
-- 50). Tickets without a value that sorts have no row: they come last in either direction,
-- and a second read (`NOT EXISTS` the '' row) lists them by id when the first runs out.
CREATE TABLE ticket_term_keys (
    term text NOT NULL,
    field text NOT NULL,
    sort_key bigint NOT NULL,
    ticket uuid NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    PRIMARY KEY (term, field, sort_key, ticket)
);
CREATE INDEX ticket_term_keys_ticket ON ticket_term_keys (ticket);

-- The key of a date (`YYYY-MM-DD`) in days since 1970, NULL for any other text (a text field
-- whose value only looks like a date, such as 2026-02-31, sorts like other text: not at all).
CREATE FUNCTION pg_temp.date_key(s text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    IF s !~ '^\d{4}-\d{2}-\d{2}$' THEN
        RETURN NULL;
    END IF;
    RETURN s::date - DATE '1970-01-01';
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

INSERT INTO ticket_term_keys (term, field, sort_key, ticket)
SELECT terms.term, keys.field, keys.sort_key, keys.id
FROM (
    SELECT t.id, f.key AS field,
        CASE jsonb_typeof(f.value)
            WHEN 'number' THEN round((f.value #>> '{}')::numeric * 10000)::bigint
            WHEN 'boolean' THEN (f.value #>> '{}')::boolean::int::bigint
            WHEN 'string' THEN pg_temp.date_key(f.value #>> '{}')
        END AS sort_key
    FROM tickets t, jsonb_each(t.fields) AS f
) AS keys
JOIN (SELECT term_ticket AS id, term FROM ticket_terms UNION ALL SELECT id, '' FROM tickets) AS terms USING (id)
WHERE keys.sort_key IS NOT NULL
ON CONFLICT DO NOTHING;
