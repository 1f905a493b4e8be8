// Creates and funds the benchmark's tenants through the admin API, with bounded concurrency and
// progress output (at 10,000 tenants this takes a while and should not look like a hang).
import type { AdminClient, Customer } from './admin-client.ts'
import { runBounded } from './bounded.ts'

export interface SetupResult {
  customers: Customer[]
  seconds: number
}

export async function setupCustomers(
  admin: AdminClient,
  count: number,
  concurrency: number,
  timeoutMs: number,
  namePrefix = 'bench',
): Promise<SetupResult> {
  const started = performance.now()
  const customers: Customer[] = new Array(count)
  let done = 0
  let timedOut = false
  const step = Math.max(1, Math.round(count / 10))
  const setup = runBounded(count, concurrency, async (i) => {
    // Stop issuing requests once the deadline has given up on us.
    if (timedOut) throw new Error('customer setup timed out')
    const customer = await admin.createCustomer(`${namePrefix}-${String(i + 1).padStart(5, '0')}`)
    await admin.addCredits(customer.id, '1000000.00')
    customers[i] = customer
    done++
    if (done % step === 0 || done === count) {
      const s = (performance.now() - started) / 1000
      console.error(`  customers ${done}/${count}  (${s.toFixed(1)} s, ${(done / s).toFixed(0)}/s)`)
    }
  })
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true
      reject(new Error(`customer setup: only ${done}/${count} done after ${timeoutMs / 1000} s`))
    }, timeoutMs)
  })
  // The loser of the race rejects later with nobody listening; that is expected.
  setup.catch(() => {})
  try {
    await Promise.race([setup, deadline])
  } finally {
    clearTimeout(timer)
  }
  return { customers, seconds: (performance.now() - started) / 1000 }
}
