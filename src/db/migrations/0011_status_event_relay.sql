-- Status events reach the bus from message_events itself (a transactional outbox that costs no
-- extra row per event): each row records the transaction that wrote it, and the relay publishes
-- rows in (xid, id) order only once every transaction below its snapshot's xmin has ended, so a
-- row that commits late is never skipped (ADR 0009).
ALTER TABLE message_events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX message_events_relay ON message_events (xid, id);

-- How far the relay has published. One row per relay; the position is (xid, id) of the last
-- published event. Starts after everything already written: history is not replayed.
CREATE TABLE event_relay_position (
  name        text PRIMARY KEY,
  xid         xid8 NOT NULL,
  id          bigint NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO event_relay_position (name, xid, id) VALUES ('status', pg_current_xact_id(), 9223372036854775807);
