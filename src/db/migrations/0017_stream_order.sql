-- The live stream's order is the order in which events become visible (ADR 0011): the
-- transaction that wrote each row, as message_events.xid (migration 0011). customer_events rows
-- (endpoint.disabled, later batch.completed, opt_out.created, message.received) record theirs too.
-- Added without a default, then given one: no rewrite of every partition (a volatile default
-- would rewrite them). Rows written before have none: they are not relayed (history is not) and
-- a stream does not resume from them.
ALTER TABLE customer_events ADD COLUMN xid xid8;
ALTER TABLE customer_events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();

-- The relay publishes customer_events rows too (endpoint.disabled and the events other features
-- record there), merged with status changes in one order: (xid, table, id).
CREATE INDEX customer_events_relay ON customer_events (xid, id);
ALTER TABLE event_relay_position ADD COLUMN src smallint NOT NULL DEFAULT 1;
