-- Submitted deliveries by age, for the receipt timeout sweep (messages a carrier took but never
-- reported on end `unknown` after SMSGW_RECEIPT_TIMEOUT_S).
CREATE INDEX deliveries_submitted_at ON deliveries (updated_at) WHERE state = 'submitted';
