-- The accept statement's debit as a function (ADR 0001, amendment "hot customer"): it locks the
-- group's customers in id order and debits each by its guarded total, returning the new
-- balances. As statements of a VOLATILE function, the lock and the update each take a fresh
-- snapshot: when a concurrent group held a customer's row (a hot customer: nearly always), the
-- re-check after the wait (EvalPlanQual) re-plans this small lock statement instead of the whole
-- accept statement, whose every CTE (all its inserts) PostgreSQL set up again for each re-check,
-- twice per group (the lock, then the update of a row version the statement's snapshot did not see).
CREATE FUNCTION smsgw_debit(ids uuid[], totals bigint[])
RETURNS TABLE (id uuid, balance bigint) LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM customers c WHERE c.id = ANY (ids) ORDER BY c.id FOR UPDATE;
  RETURN QUERY
    UPDATE customers c SET balance = c.balance - x.total
      FROM unnest(ids, totals) AS x (id, total)
     WHERE c.id = x.id AND c.balance >= x.total
    RETURNING c.id, c.balance;
END $$;
