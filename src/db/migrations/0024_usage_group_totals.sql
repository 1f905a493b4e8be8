-- Per-group totals of each (customer, hour) for GET /v1/usage with group_by (issue 13, ADR 0014
-- amendment 3): group_by=country and group_by=priority over hours read (hour, group, status) sums
-- instead of aggregating the dimension rows twice (a busy customer's 30 days of hours are ~26,800
-- dimension rows, ~17,300 (hour, country, status) rows and one aggregate fewer). group_by=status
-- reads the per-status totals of migration 0022 as they are. Kept by the rollup passes in the same
-- transaction as the rows they sum (the minute rows' differences added), re-derived whole by
-- `rollups rebuild`, like the per-status totals. Not per minute: each table costs every pass an
-- upsert per changed row, and a minute's dimension rows are few already.
CREATE TABLE usage_hour_country (
  customer_id  uuid NOT NULL,
  bucket       timestamptz NOT NULL,
  country      text NOT NULL,
  status       text NOT NULL,
  messages     bigint NOT NULL,
  segments     bigint NOT NULL,
  cost_micros  bigint NOT NULL,
  PRIMARY KEY (customer_id, bucket, country, status) INCLUDE (messages, segments, cost_micros)
);
CREATE TABLE usage_hour_priority (
  customer_id  uuid NOT NULL,
  bucket       timestamptz NOT NULL,
  priority     text NOT NULL,
  status       text NOT NULL,
  messages     bigint NOT NULL,
  segments     bigint NOT NULL,
  cost_micros  bigint NOT NULL,
  PRIMARY KEY (customer_id, bucket, priority, status) INCLUDE (messages, segments, cost_micros)
);
INSERT INTO usage_hour_country
SELECT customer_id, bucket, country, status, sum(messages), sum(segments), sum(cost_micros)
  FROM usage_hour GROUP BY 1, 2, 3, 4;
INSERT INTO usage_hour_priority
SELECT customer_id, bucket, priority, status, sum(messages), sum(segments), sum(cost_micros)
  FROM usage_hour GROUP BY 1, 2, 3, 4;
