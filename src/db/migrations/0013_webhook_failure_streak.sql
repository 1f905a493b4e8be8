-- The last failure of an endpoint's failing streak: a failure more than 24 h after it starts a new
-- streak, so only an endpoint failing continuously for 3 days is disabled.
ALTER TABLE webhook_endpoints ADD COLUMN last_failure_at timestamptz;
