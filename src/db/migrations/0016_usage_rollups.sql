-- Usage rollups (issue 13, ADR 0014): counts, segments and cost per (bucket, customer, country,
-- status, priority, carrier) at minute, hour and day granularity. Each row is a projection of the
-- message log, recomputed whole for a (customer, bucket) whenever a status event or a new
-- message touches it — so applying an event twice, or out of order, changes nothing.
-- cost_micros = price − refunds of the bucket's messages (what the customer pays for them).
-- carrier is '' for messages no carrier has taken.
CREATE TABLE usage_minute (
  customer_id  uuid NOT NULL,
  bucket       timestamptz NOT NULL,
  country      text NOT NULL,
  status       text NOT NULL,
  priority     text NOT NULL,
  carrier      text NOT NULL,
  messages     bigint NOT NULL,
  segments     bigint NOT NULL,
  cost_micros  bigint NOT NULL,
  PRIMARY KEY (customer_id, bucket, country, status, priority, carrier)
);
CREATE TABLE usage_hour (LIKE usage_minute INCLUDING ALL);
CREATE TABLE usage_day (LIKE usage_minute INCLUDING ALL);
-- Operator reports read all customers of a time range.
CREATE INDEX usage_minute_bucket ON usage_minute (bucket);
CREATE INDEX usage_hour_bucket ON usage_hour (bucket);
CREATE INDEX usage_day_bucket ON usage_day (bucket);

-- Where the sweep of newly accepted messages has reached (accepts write no status event).
CREATE TABLE usage_sweep_position (
  name        text PRIMARY KEY,
  swept_to    timestamptz NOT NULL
);
INSERT INTO usage_sweep_position (name, swept_to) VALUES ('accepted', now());

-- Retention (ADR 0019): days whose message partitions were archived and dropped. Reconcile skips them.
CREATE TABLE archived_days (
  day          date PRIMARY KEY,
  tables       text[] NOT NULL,
  rows         bigint NOT NULL,
  files        text[] NOT NULL,
  archived_at  timestamptz NOT NULL DEFAULT now()
);
