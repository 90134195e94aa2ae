-- Ticket followers: a uuid[] column beside the document, kept by every ticket write, and a GIN
-- index so "the tickets this person follows" (@>) reads only those tickets. The document (doc)
-- keeps the followers too; rows written before this migration have none.
ALTER TABLE tickets ADD COLUMN followers uuid[] NOT NULL DEFAULT '{}';
CREATE INDEX tickets_followers ON tickets USING gin (followers);
