-- Tracing across processes (ADR 16): the W3C traceparent of a message's accept commit, read by
-- the dispatcher (another process, maybe) as the parent of its `dispatch` span; and of a part's
-- carrier submit, read by the receipt matcher (maybe another worker) as the parent of `receipt`.
-- Written only while tracing is on; NULL otherwise. Nullable without a default: no table rewrite.
ALTER TABLE outbox ADD COLUMN trace_parent text;
ALTER TABLE carrier_refs ADD COLUMN trace_parent text;
