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
