-- Two-way messaging and compliance (ADR 0012): numbers assigned to customers, inbound (MO)
-- routing with concatenated parts reassembled, opt-out lists and keyword replies.

-- A long code or short code assigned to one customer (keyword ''), or a keyword on a shared short
-- code (one row per keyword, each its own customer). A number is either dedicated or shared,
-- never both: the assignment statement checks it under an advisory lock on the number.
CREATE TABLE numbers (
  number       text NOT NULL,
  keyword      text NOT NULL DEFAULT '',
  kind         text NOT NULL CHECK (kind IN ('long_code', 'short_code')),
  customer_id  uuid NOT NULL REFERENCES customers(id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (number, keyword)
);
CREATE INDEX numbers_customer ON numbers (customer_id, number, keyword);

-- An opt-out is a period: created when the recipient sent STOP (or the customer added it), ended
-- (removed_at) by START or DELETE. Rows are kept so `smsgw reconcile` can tell whether a message
-- was accepted while its recipient was opted out.
CREATE TABLE opt_outs (
  id           bigserial PRIMARY KEY,
  customer_id  uuid NOT NULL REFERENCES customers(id),
  phone        text NOT NULL,
  source       text NOT NULL CHECK (source IN ('keyword', 'api')),
  created_at   timestamptz NOT NULL DEFAULT now(),
  removed_at   timestamptz
);
CREATE UNIQUE INDEX opt_outs_active ON opt_outs (customer_id, phone) WHERE removed_at IS NULL;
CREATE INDEX opt_outs_list ON opt_outs (customer_id, id DESC) WHERE removed_at IS NULL;
CREATE INDEX opt_outs_phone ON opt_outs (customer_id, phone, created_at);

-- Confirmation / help texts per customer. NULL: the built-in default; '': no reply.
CREATE TABLE keyword_replies (
  customer_id  uuid PRIMARY KEY REFERENCES customers(id),
  opt_out      text,
  opt_in       text,
  help         text,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Routed inbound: customer_id set (NULL: matched no customer, kept for the operator).
ALTER TABLE inbound_messages
  ADD COLUMN keyword   text,
  ADD COLUMN parts     integer NOT NULL DEFAULT 1;
CREATE INDEX inbound_messages_customer ON inbound_messages (customer_id, id DESC) WHERE customer_id IS NOT NULL;
CREATE INDEX inbound_messages_unrouted ON inbound_messages (id DESC) WHERE customer_id IS NULL;

-- Parts of a concatenated MO (UDH or SAR) waiting for their siblings; the part that completes a
-- message deletes them in the transaction that stores it. Acknowledged to the SMSC once stored.
CREATE TABLE inbound_parts (
  carrier      text NOT NULL,
  from_number  text NOT NULL,
  to_number    text NOT NULL,
  ref          integer NOT NULL,
  total        integer NOT NULL,
  seq          integer NOT NULL,
  body         text NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (carrier, from_number, to_number, ref, total, seq)
);
