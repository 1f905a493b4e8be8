-- Customer events and webhooks (ADR 0010). Message events are not copied anywhere: an event of
-- the API is a message_events row (or, for message.queued, the messages row itself) rendered
-- on read; only events that are not a message's status change get a row of their own here.

-- Events that are not message status changes (endpoint.disabled today; batch.completed,
-- opt_out.created later). Append-only, partitioned by day like message_events (30-day retention).
CREATE TABLE customer_events (
  id           bigserial,
  customer_id  uuid NOT NULL,
  type         text NOT NULL,
  data         jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX customer_events_customer ON customer_events (customer_id, created_at DESC);
CREATE TRIGGER customer_events_append_only BEFORE UPDATE OR DELETE ON customer_events
  FOR EACH ROW EXECUTE FUNCTION smsgw_forbid_mutation();

-- The customer's receivers. Secrets are AES-256-GCM encrypted with the operator's webhook key
-- (SMSGW_WEBHOOK_SECRET_KEY or a key file in the data dir); the clear text is shown once.
CREATE TABLE webhook_endpoints (
  id                    uuid PRIMARY KEY,
  customer_id           uuid NOT NULL REFERENCES customers(id),
  url                   text NOT NULL,
  -- NULL: every event type.
  events                text[],
  description           text,
  enabled               boolean NOT NULL DEFAULT true,
  secret_enc            bytea NOT NULL,
  -- The secret before the last rotation keeps signing until previous_expires_at.
  previous_secret_enc   bytea,
  previous_expires_at   timestamptz,
  -- First failure of the current failing streak; an endpoint failing for 3 days is disabled.
  failing_since         timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  deleted_at            timestamptz
);
CREATE INDEX webhook_endpoints_customer ON webhook_endpoints (customer_id, created_at)
  WHERE deleted_at IS NULL;

-- One row per (event, target): the durable retry state of a delivery chain. `target` is the
-- endpoint id, or 'status_callback' for the message's own status_callback_url.
CREATE TABLE webhook_deliveries (
  id                  bigserial PRIMARY KEY,
  customer_id         uuid NOT NULL,
  event_id            text NOT NULL,
  event_type          text NOT NULL,
  target              text NOT NULL,
  endpoint_id         uuid,
  state               text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'succeeded', 'failed')),
  attempts            integer NOT NULL DEFAULT 0,
  next_attempt_at     timestamptz NOT NULL DEFAULT now(),
  chain_started_at    timestamptz NOT NULL DEFAULT now(),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (event_id, target)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
-- Claims that skip a slow endpoint walk the targets with pending deliveries instead of its backlog.
CREATE INDEX webhook_deliveries_target ON webhook_deliveries (target, next_attempt_at) WHERE state = 'pending';

-- Every attempt, for GET /v1/webhook_endpoints/{id}/deliveries. Append-only.
CREATE TABLE webhook_attempts (
  id            bigserial PRIMARY KEY,
  delivery_id   bigint NOT NULL,
  customer_id   uuid NOT NULL,
  endpoint_id   uuid,
  event_id      text NOT NULL,
  attempt       integer NOT NULL,
  status_code   integer,
  latency_ms    integer NOT NULL,
  error         text,
  next_retry_at timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id DESC) WHERE endpoint_id IS NOT NULL;
CREATE INDEX webhook_attempts_created ON webhook_attempts (created_at);

-- GET /v1/events lists a customer's recent status changes newest first: one more index entry
-- per status change (no extra row).
CREATE INDEX message_events_customer ON message_events (customer_id, created_at DESC);

-- Event ids in SQL, exactly as src/events/event-ids.ts makes them (for reconciliation): `evt_` +
-- Crockford base32 of 16 bytes = 48-bit ms | kind byte | 0 | bigint row id, or a message's UUIDv7.
CREATE FUNCTION smsgw_evt_base32(b bytea) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT 'evt_' || string_agg(substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ',
           substring(bits FROM i * 5 + 1 FOR 5)::int + 1, 1), '' ORDER BY i)
    FROM (SELECT B'00' || ('x' || encode(b, 'hex'))::bit(128) AS bits) x, generate_series(0, 25) AS i
$$;
CREATE FUNCTION smsgw_row_event_id(kind integer, at timestamptz, row_id bigint) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT smsgw_evt_base32(substring(int8send(floor(extract(epoch FROM at) * 1000)::bigint) FROM 3 FOR 6)
                          || set_byte('\x0000'::bytea, 0, kind) || int8send(row_id))
$$;
CREATE FUNCTION smsgw_queued_event_id(message_id uuid) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT smsgw_evt_base32(decode(replace(message_id::text, '-', ''), 'hex'))
$$;
