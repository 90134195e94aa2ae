-- Ticket tags: a text[] column beside the document, kept by every ticket write, and a GIN
-- index so "any of these tags" (&&) and "all of these tags" (@>) read only the tickets that
-- carry them. The document (doc) keeps the tags too; rows written before this migration carry
-- none.
ALTER TABLE tickets ADD COLUMN tags text[] NOT NULL DEFAULT '{}';
CREATE INDEX tickets_tags ON tickets USING gin (tags);
