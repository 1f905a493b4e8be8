-- Helpers for the optimistic accept statement (src/billing/accept-fast.ts).

-- Aborts the statement (and so every write it made) when a precondition does not hold.
CREATE FUNCTION smsgw_require(ok boolean, what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF NOT ok THEN
    RAISE EXCEPTION 'smsgw_precondition: %', what USING ERRCODE = 'SG001';
  END IF;
  RETURN true;
END $$;

-- Exactly domain/money.ts formatAmount: micro-units as a decimal with at least 4 decimals.
CREATE FUNCTION smsgw_format_amount(m bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN m < 0 THEN '-' ELSE '' END || (abs(m) / 1000000)::text || '.' ||
         left(lpad((abs(m) % 1000000)::text, 6, '0'), 4) ||
         rtrim(substr(lpad((abs(m) % 1000000)::text, 6, '0'), 5), '0')
$$;
