-- Ticket numbers from a sequence instead of the one-row counter. The counter's UPDATE was a
-- commit of its own (a WAL flush) before every create and serialised all creates on one row
-- lock; `nextval` takes neither. SPEC allows small gaps after a rollback or crash, never reuse:
-- a sequence skips numbers a rolled-back create took (and up to 32 after a crash, its log-ahead),
-- and never hands out a number a committed ticket holds, because that ticket's commit flushed
-- the sequence's WAL record before it.
CREATE SEQUENCE ticket_number_seq AS bigint MINVALUE 1;
SELECT setval('ticket_number_seq', GREATEST(value, 1), value > 0) FROM ticket_counter WHERE id = 1;
DROP TABLE ticket_counter;
