-- Delivery pipeline state.

-- One row per message a delivery worker has taken: the de-dup claim checked before any carrier
-- submit, so a bus redelivery never sends a message twice.
CREATE TABLE deliveries (
  message_id          uuid PRIMARY KEY,
  message_created_at  timestamptz NOT NULL,
  customer_id         uuid NOT NULL,
  state               text NOT NULL CHECK (state IN ('claimed', 'submitted', 'final')),
  attempts            integer NOT NULL DEFAULT 1,
  lease_until         timestamptz NOT NULL,
  carrier             text,
  parts               integer,
  updated_at          timestamptz NOT NULL DEFAULT now()
);

-- The carrier's id of every submitted part, to match delivery receipts back to our message.
CREATE TABLE carrier_refs (
  carrier             text NOT NULL,
  carrier_id          text NOT NULL,
  message_id          uuid NOT NULL,
  message_created_at  timestamptz NOT NULL,
  customer_id         uuid NOT NULL,
  part                integer NOT NULL,
  parts               integer NOT NULL,
  receipt_status      text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (carrier, carrier_id)
);
CREATE INDEX carrier_refs_message ON carrier_refs (message_id);

-- Mobile-originated messages received from carriers.
CREATE TABLE inbound_messages (
  id           uuid PRIMARY KEY,
  carrier      text NOT NULL,
  from_number  text NOT NULL,
  to_number    text NOT NULL,
  body         text NOT NULL,
  customer_id  uuid,
  received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbound_messages_to ON inbound_messages (to_number, received_at);
