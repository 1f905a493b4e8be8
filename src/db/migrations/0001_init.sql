-- smsgw schema v1. Money is integer micro-units (bigint). Runs on PostgreSQL 15+ and PGlite.

CREATE FUNCTION smsgw_forbid_mutation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: write a correcting row instead', TG_TABLE_NAME
    USING ERRCODE = 'restrict_violation';
END $$;

CREATE TABLE customers (
  id              uuid PRIMARY KEY,
  name            text NOT NULL,
  tier            text NOT NULL DEFAULT 'standard',
  rate_limit_mps  integer NOT NULL CHECK (rate_limit_mps > 0),
  currency        text NOT NULL DEFAULT 'USD',
  -- Denormalized sum of the customer's ledger, kept in the same transaction as every entry.
  balance         bigint NOT NULL DEFAULT 0 CHECK (balance >= 0),
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id           uuid PRIMARY KEY,
  customer_id  uuid NOT NULL REFERENCES customers(id),
  prefix       text NOT NULL,
  secret_hash  bytea NOT NULL UNIQUE,
  allowed_ips  text[],
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz
);
CREATE INDEX api_keys_customer ON api_keys (customer_id);

CREATE TABLE rates (
  country       text PRIMARY KEY CHECK (country = '*' OR country ~ '^[A-Z]{2}$'),
  currency      text NOT NULL,
  price_micros  bigint NOT NULL CHECK (price_micros >= 0),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger (
  id             bigserial PRIMARY KEY,
  customer_id    uuid NOT NULL REFERENCES customers(id),
  kind           text NOT NULL CHECK (kind IN ('credit', 'charge', 'refund', 'adjustment')),
  amount         bigint NOT NULL,
  balance_after  bigint NOT NULL CHECK (balance_after >= 0),
  message_id     uuid,
  reference      text,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_customer ON ledger (customer_id, id);
CREATE INDEX ledger_message ON ledger (message_id) WHERE message_id IS NOT NULL;
CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger
  FOR EACH ROW EXECUTE FUNCTION smsgw_forbid_mutation();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
  FOR EACH STATEMENT EXECUTE FUNCTION smsgw_forbid_mutation();

-- Messages are partitioned by day on created_at; ids are UUIDv7, so an id names its day.
CREATE TABLE messages (
  id                   uuid NOT NULL,
  created_at           timestamptz NOT NULL,
  customer_id          uuid NOT NULL,
  api_key_id           uuid,
  to_number            text NOT NULL,
  from_sender          text NOT NULL,
  body                 text,
  country              text NOT NULL,
  encoding             text NOT NULL,
  segments             integer NOT NULL,
  price_micros         bigint NOT NULL,
  currency             text NOT NULL,
  priority             text NOT NULL,
  client_reference     text,
  status_callback_url  text,
  metadata             jsonb,
  batch_id             uuid,
  expires_at           timestamptz NOT NULL,
  send_at              timestamptz,
  status               text NOT NULL,
  status_updated_at    timestamptz NOT NULL,
  PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX messages_customer ON messages (customer_id, id DESC);
CREATE INDEX messages_client_reference ON messages (customer_id, client_reference)
  WHERE client_reference IS NOT NULL;

-- What was accepted and charged never changes; only the status projection and (at retention) the body do.
CREATE FUNCTION smsgw_messages_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'messages is append-only' USING ERRCODE = 'restrict_violation';
  END IF;
  IF (NEW.id, NEW.created_at, NEW.customer_id, NEW.to_number, NEW.from_sender, NEW.segments,
      NEW.price_micros, NEW.currency, NEW.priority)
     IS DISTINCT FROM
     (OLD.id, OLD.created_at, OLD.customer_id, OLD.to_number, OLD.from_sender, OLD.segments,
      OLD.price_micros, OLD.currency, OLD.priority) THEN
    RAISE EXCEPTION 'accepted message fields are immutable' USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER messages_guard BEFORE UPDATE OR DELETE ON messages
  FOR EACH ROW EXECUTE FUNCTION smsgw_messages_guard();

CREATE TABLE message_events (
  id           bigserial,
  message_id   uuid NOT NULL,
  customer_id  uuid NOT NULL,
  status       text NOT NULL,
  detail       jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX message_events_message ON message_events (message_id);
CREATE TRIGGER message_events_append_only BEFORE UPDATE OR DELETE ON message_events
  FOR EACH ROW EXECUTE FUNCTION smsgw_forbid_mutation();

-- Idempotency keys cannot live on the partitioned messages table (a unique index there must
-- include the partition key), so they have their own, expiring after 24 h.
CREATE TABLE idempotency_keys (
  customer_id   uuid NOT NULL,
  key           text NOT NULL,
  request_hash  text NOT NULL,
  status_code   integer NOT NULL,
  response      text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  PRIMARY KEY (customer_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- Accepted messages waiting for the dispatcher; written in the accept transaction.
CREATE TABLE outbox (
  seq                 bigserial PRIMARY KEY,
  message_id          uuid NOT NULL,
  message_created_at  timestamptz NOT NULL,
  customer_id         uuid NOT NULL,
  priority            text NOT NULL,
  available_at        timestamptz NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_customer ON outbox (priority, customer_id, seq);
