-- Batches (POST /v1/batches) and cancel (POST /v1/messages/{id}/cancel), ADR 0013.

-- One row per accepted batch, written in the same statement as its messages and charges. What was
-- accepted never changes; only `open_messages` (messages of the batch not final yet, decremented
-- by the status writer in the transaction that makes one final) and `completed_at` move.
CREATE TABLE batches (
  id                uuid PRIMARY KEY,
  customer_id       uuid NOT NULL REFERENCES customers(id),
  -- Every message of the batch has exactly this created_at (their UUIDv7 ids share its ms), so
  -- the batch's messages are found in one partition.
  created_at        timestamptz NOT NULL,
  from_sender       text NOT NULL,
  body              text NOT NULL,
  priority          text NOT NULL,
  client_reference  text,
  send_at           timestamptz,
  total             integer NOT NULL CHECK (total >= 0),
  accepted          integer NOT NULL CHECK (accepted >= 0 AND accepted <= total),
  rejected          jsonb NOT NULL,
  price_micros      bigint NOT NULL CHECK (price_micros >= 0),
  currency          text NOT NULL,
  open_messages     integer NOT NULL CHECK (open_messages >= 0),
  completed_at      timestamptz
);
CREATE INDEX batches_customer ON batches (customer_id, id DESC);
CREATE INDEX batches_open ON batches (created_at) WHERE completed_at IS NULL;

-- The messages of a batch (counts by status, batch cancel). batch_id never changes, so this index
-- does not stop status updates from being HOT; it has no entry for a message outside a batch.
CREATE INDEX messages_batch ON messages (batch_id) WHERE batch_id IS NOT NULL;

-- A canceled message's delivery row: the cancel and a worker's claim both insert the same
-- deliveries row (message_id is its key), so exactly one of them wins; a worker never claims a
-- 'canceled' row, and a cancel never takes a row a worker holds.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_state_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check
  CHECK (state IN ('claimed', 'submitting', 'submitted', 'final', 'canceled'));
