-- A claim is marked 'submitting' (committed) before its submit leaves for the carrier, so a worker
-- taking over after a crash can tell "never sent" (claimed: safe to send) from "maybe sent"
-- (submitting: never send again).
ALTER TABLE deliveries DROP CONSTRAINT deliveries_state_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check
  CHECK (state IN ('claimed', 'submitting', 'submitted', 'final'));
