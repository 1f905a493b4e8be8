-- Usage reads (issue 13, ADR 0014 "Read speed"): GET /v1/usage reads one customer's rows of a
-- range and sums messages, segments and cost per (bucket, status). With the three sums in the
-- primary key's leaf entries (INCLUDE), that is an index-only scan over the customer's contiguous
-- key range instead of one heap page per few rows (a busy customer's 30 days of hours are ~27,000
-- rows spread over as many passes' pages). The keys are unchanged; the index is rebuilt (a lock on
-- each table for the time of the build).
ALTER TABLE usage_minute DROP CONSTRAINT usage_minute_pkey,
  ADD CONSTRAINT usage_minute_pkey PRIMARY KEY (customer_id, bucket, country, status, priority, carrier)
  INCLUDE (messages, segments, cost_micros);
ALTER TABLE usage_hour DROP CONSTRAINT usage_hour_pkey,
  ADD CONSTRAINT usage_hour_pkey PRIMARY KEY (customer_id, bucket, country, status, priority, carrier)
  INCLUDE (messages, segments, cost_micros);
ALTER TABLE usage_day DROP CONSTRAINT usage_day_pkey,
  ADD CONSTRAINT usage_day_pkey PRIMARY KEY (customer_id, bucket, country, status, priority, carrier)
  INCLUDE (messages, segments, cost_micros);

-- Per-status totals of each (customer, minute | hour): GET /v1/usage without group_by needs only
-- (bucket, status) sums, and a busy customer's 30 days of hours are ~27,000 dimension rows but
-- ~2,900 status rows. Kept by the rollup passes in the same transaction as the rows they sum
-- (the minute rows' differences added), re-derived whole by `rollups rebuild`.
CREATE TABLE usage_minute_status (
  customer_id  uuid NOT NULL,
  bucket       timestamptz NOT NULL,
  status       text NOT NULL,
  messages     bigint NOT NULL,
  segments     bigint NOT NULL,
  cost_micros  bigint NOT NULL,
  PRIMARY KEY (customer_id, bucket, status) INCLUDE (messages, segments, cost_micros)
);
CREATE TABLE usage_hour_status (LIKE usage_minute_status INCLUDING ALL);
INSERT INTO usage_minute_status
SELECT customer_id, bucket, status, sum(messages), sum(segments), sum(cost_micros)
  FROM usage_minute GROUP BY 1, 2, 3;
INSERT INTO usage_hour_status
SELECT customer_id, bucket, status, sum(messages), sum(segments), sum(cost_micros)
  FROM usage_hour GROUP BY 1, 2, 3;
