-- The receipt-timeout sweep by validity end instead of by submit time (ADR 0006 amendment 2).
--
-- Before, the sweep walked `deliveries_submitted_at` (every submitted delivery of the last 10 days,
-- by updated_at) each minute and looked up each row's message to find the few still `sent`: at
-- 100 M messages a day that is up to a billion index entries a minute, and because the index's
-- key and predicate (updated_at, state) change on every claim → submitting → submitted step, no
-- update of a deliveries row could be HOT.
--
-- Now each delivery carries its message's expires_at (immutable), the index is on
-- (expires_at, message_id) with no predicate, and the sweep keeps a position: every row whose
-- validity ended before it has been looked at once. Updates of deliveries touch no indexed column,
-- so they can be HOT (fillfactor leaves them room).
ALTER TABLE deliveries ADD COLUMN expires_at timestamptz;
ALTER TABLE deliveries SET (fillfactor = 50);

-- Rows the old sweep would still have looked at.
UPDATE deliveries d SET expires_at = m.expires_at
  FROM messages m
 WHERE m.id = d.message_id AND m.created_at = d.message_created_at
   AND d.state = 'submitted' AND d.updated_at > now() - interval '10 days';

DROP INDEX deliveries_submitted_at;
CREATE INDEX deliveries_expiry ON deliveries (expires_at, message_id);

-- One row: the sweep has looked at every delivery ordered before (mark, mark_id).
CREATE TABLE receipt_sweep_position (
  one      boolean PRIMARY KEY DEFAULT true CHECK (one),
  mark     timestamptz NOT NULL,
  mark_id  uuid NOT NULL
);
INSERT INTO receipt_sweep_position (mark, mark_id)
VALUES (now() - interval '10 days', '00000000-0000-0000-0000-000000000000');
