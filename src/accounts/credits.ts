import type { Queryable } from '../db/db.ts'
import { formatAmount, MAX_BALANCE_MICROS } from '../domain/money.ts'
import { type Customer, findCustomer } from './customers.ts'
import { appendEntry, type LedgerEntry } from './ledger.ts'

/** A credit that would take a balance past MAX_BALANCE_MICROS; nothing was written. */
export class BalanceLimitError extends Error {
  readonly code = 'balance_limit'
  constructor(readonly balanceMicros: number) {
    super(
      `The credit would take the balance (${formatAmount(balanceMicros)}) above the maximum of ${formatAmount(MAX_BALANCE_MICROS)}`,
    )
  }
}

/**
 * Credits a customer inside the caller's transaction: locks the customer row, appends the
 * ledger entry and moves the balance with it. Undefined when the customer does not exist.
 */
export async function creditCustomer(
  tx: Queryable,
  customerId: string,
  amountMicros: number,
  reference: string | null,
): Promise<{ customer: Customer; entry: LedgerEntry } | undefined> {
  if (!Number.isSafeInteger(amountMicros) || amountMicros <= 0)
    throw new RangeError('credit must be a positive amount')
  const customer = await findCustomer(tx, customerId, true)
  if (!customer) return undefined
  if (customer.balanceMicros + amountMicros > MAX_BALANCE_MICROS)
    throw new BalanceLimitError(customer.balanceMicros)
  const entry = await appendEntry(tx, {
    customerId,
    kind: 'credit',
    amountMicros,
    balanceBeforeMicros: customer.balanceMicros,
    reference,
  })
  return { customer, entry }
}
