-- PATCH /v1/admin/customers/{id}: a customer can be suspended (its keys get 403) and given an IP
-- allow-list that holds for every one of its keys (a key's own list must also allow the address).
ALTER TABLE customers
  ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  ADD COLUMN allowed_ips text[];

-- GET /v1/messages?to=… walks this newest first and stops at the page size, instead of reading
-- the customer's whole history through messages_customer and filtering it.
CREATE INDEX messages_customer_to ON messages (customer_id, to_number, id DESC);
