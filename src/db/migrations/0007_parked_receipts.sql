-- Receipts that matched no message when they arrived. A receipt can beat our record of the submit
-- (the carrier reports before its submit_sm_resp reaches us and is written), and a carrier can
-- report ids we never had. Parked receipts are matched again when carrier ids are recorded (and
-- by a periodic sweep), and deleted by maintenance once older than the parking bound (24 h).
CREATE TABLE parked_receipts (
  carrier     text NOT NULL,
  carrier_id  text NOT NULL,
  status      text NOT NULL,
  error_code  text,
  done_at     timestamptz,
  parked_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (carrier, carrier_id)
);
CREATE INDEX parked_receipts_age ON parked_receipts (parked_at);
