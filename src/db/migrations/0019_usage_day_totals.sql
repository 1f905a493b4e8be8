-- Report totals per day (issue 13, ADR 0014 "Report speed"): the operator reports over whole days
-- read these small tables instead of aggregating usage_day (10,000 customers × 30 days × the
-- dimensions is millions of rows). Maintained by the same recompute, in the same transaction, from
-- the usage_day rows it replaces: per (day, customer) recomputed, per (day, carrier, status) by
-- the difference between the replaced and the new rows.
CREATE TABLE usage_day_customer (
  bucket       timestamptz NOT NULL,
  customer_id  uuid NOT NULL,
  messages     bigint NOT NULL,
  segments     bigint NOT NULL,
  cost_micros  bigint NOT NULL,
  PRIMARY KEY (bucket, customer_id)
);
CREATE TABLE usage_day_carrier (
  bucket       timestamptz NOT NULL,
  carrier      text NOT NULL,
  status       text NOT NULL,
  messages     bigint NOT NULL,
  PRIMARY KEY (bucket, carrier, status)
);
INSERT INTO usage_day_customer (bucket, customer_id, messages, segments, cost_micros)
SELECT bucket, customer_id, sum(messages), sum(segments), sum(cost_micros)
  FROM usage_day GROUP BY bucket, customer_id;
INSERT INTO usage_day_carrier (bucket, carrier, status, messages)
SELECT bucket, carrier, status, sum(messages)
  FROM usage_day WHERE carrier <> '' GROUP BY bucket, carrier, status;
