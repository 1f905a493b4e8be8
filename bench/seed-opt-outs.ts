// `--opt-outs N`: puts N numbers on a tenant's opt-out list straight in the bench database, so the
// accept path's opt-out screen is measured with a long list (numbers +1999…, which the payloads
// never send to: every send is still accepted, after the check).
import pg from 'pg'

export async function seedOptOuts(dbUrl: string, customerId: string, n: number): Promise<number> {
  const c = new pg.Client({ connectionString: dbUrl })
  await c.connect()
  try {
    const started = performance.now()
    await c.query(
      `INSERT INTO opt_outs (customer_id, phone, source)
       SELECT $1, '+1999' || lpad(g::text, 7, '0'), 'api' FROM generate_series(1, $2::int) g`,
      [customerId, n],
    )
    return (performance.now() - started) / 1000
  } finally {
    await c.end()
  }
}
