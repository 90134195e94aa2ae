-- Custom field values: a jsonb column beside the document (the values by key, plain JSON),
-- kept by every ticket write, and a GIN index (jsonb_path_ops: containment only, smaller and
-- faster than the default operator class) so a filter on a field (`fields @> '{"location":
-- "Lisbon"}'`, a multiple choice `'{"os": ["linux"]}'`) reads only the tickets that carry the
-- value. The document (doc) keeps the values too; rows written before this migration have none.
ALTER TABLE tickets ADD COLUMN fields jsonb NOT NULL DEFAULT '{}';
CREATE INDEX tickets_fields ON tickets USING gin (fields jsonb_path_ops);
