// `smsgw start`, and the split roles, with DATABASE_URL + NATS_URL + CLICKHOUSE_URL against a real
// clickhouse-server started by the test: messages sent through the API are delivered, the sink
// copies them to ClickHouse, and GET /v1/usage answers from ClickHouse with the right counts.

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createClickHouse } from '../../src/reporting/clickhouse.ts'
import { type ClickHouseServer, clickhouseSkipReason, startClickHouse } from '../helpers/clickhouse-server.ts'
import { apiClient, type Gateway, startGateway } from '../helpers/gateway.ts'
import { deleteStream, NATS_URL } from '../helpers/nats.ts'
import { type FreshDatabase, freshDatabase } from '../helpers/pg.ts'
import { startSimProcess } from '../helpers/sim-process.ts'
import { waitFor } from '../helpers/wait.ts'

const ADMIN = 'adm_e2e_clickhouse_0123456789'
const DAY = 86_400_000
const skip = clickhouseSkipReason()

interface Usage {
  data: {
    period_start: string
    country?: string
    messages: number
    segments: number
    by_status: Record<string, number>
  }[]
}

describe('smsgw with CLICKHOUSE_URL (real clickhouse-server, PostgreSQL, NATS)', {
  skip: skip ?? false,
}, () => {
  let server: ClickHouseServer
  let fresh: FreshDatabase
  const dataDir = mkdtempSync(join(tmpdir(), 'smsgw-ch-e2e-'))
  const stream = `e2e_ch_${randomBytes(4).toString('hex')}`
  const gateways: Gateway[] = []
  let env: Record<string, string>
  let chUrl: string

  before(async () => {
    server = await startClickHouse()
    fresh = await freshDatabase()
    chUrl = `${server.url}?database=smsgw_e2e`
    env = {
      DATABASE_URL: fresh.url,
      NATS_URL,
      SMSGW_NATS_STREAM: stream,
      CLICKHOUSE_URL: chUrl,
      LOG_LEVEL: 'warn',
    }
  })
  after(async () => {
    for (const g of gateways) await g.stop()
    await deleteStream(stream)
    await fresh?.drop()
    await server?.stop()
    rmSync(dataDir, { recursive: true, force: true })
  })

  /** Sends `n` messages as a new customer, waits until all are delivered; returns its key and id. */
  async function sendDelivered(url: string, n: number): Promise<{ key: string; id: string }> {
    const api = apiClient(url)
    const { apiKey: key, id } = await api.fundedCustomer(ADMIN, '1.00')
    const ids: string[] = []
    for (let i = 0; i < n; i++) {
      const body = i % 2 === 0 ? 'hi' : 'x'.repeat(200) // two segments
      const msg = await api.ok('POST', '/v1/messages', key, { to: '+14155550123', from: 'ACME', body })
      ids.push(msg.id as string)
    }
    await waitFor(
      async () => {
        for (const m of ids)
          if ((await api.ok('GET', `/v1/messages/${m}`, key)).status !== 'delivered') return false
        return true
      },
      `${n} messages delivered`,
      60_000,
      250,
    )
    return { key, id }
  }

  /** GET /v1/usage (day, all of today) once it reports `n` delivered messages. */
  async function usageWhenCounted(url: string, key: string, n: number, query = ''): Promise<Usage> {
    const api = apiClient(url)
    const from = new Date(Math.floor(Date.now() / DAY) * DAY).toISOString()
    return waitFor(
      async () => {
        const u = (await api.ok(
          'GET',
          `/v1/usage?granularity=day&from=${from}${query}`,
          key,
        )) as unknown as Usage
        const delivered = u.data.reduce((s, p) => s + (p.by_status.delivered ?? 0), 0)
        return delivered === n ? u : undefined
      },
      `GET /v1/usage reports ${n} delivered`,
      60_000,
      500,
    )
  }

  /** A difference row only ClickHouse has (country ZZ): GET /v1/usage showing it proves it reads ClickHouse. */
  async function markClickHouse(customerId: string): Promise<void> {
    const day = Math.floor(Date.now() / DAY) * DAY
    await createClickHouse(chUrl).exec(
      'INSERT INTO sms_usage_day FORMAT JSONEachRow',
      JSON.stringify({
        bucket: String(day / 1000),
        customer_id: customerId,
        country: 'ZZ',
        status: 'delivered',
        priority: 'normal',
        carrier: 'marker',
        messages: 1,
        segments: 1,
        cost_micros: 0,
      }),
    )
  }

  it('smsgw start: usage from ClickHouse counts the delivered messages, segments included', async () => {
    const g = await startGateway({ dataDir, adminToken: ADMIN, env })
    gateways.push(g)
    const { key, id } = await sendDelivered(g.url, 4)
    const u = await usageWhenCounted(g.url, key, 4)
    assert.equal(u.data.length, 1, JSON.stringify(u))
    assert.equal(u.data[0]?.messages, 4)
    assert.equal(u.data[0]?.segments, 6)
    const ch = createClickHouse(chUrl)
    const [row] = await ch.rows<{ n: string }>(
      `SELECT count() AS n FROM sms_messages FINAL WHERE customer_id = '${id}' AND status = 'delivered'`,
    )
    assert.equal(row?.n, '4')
    await markClickHouse(id)
    const marked = await usageWhenCounted(g.url, key, 5, '&group_by=country')
    assert.deepEqual(marked.data.map((p) => [p.country, p.messages]).sort(), [
      ['US', 4],
      ['ZZ', 1],
    ])
    assert.equal(await g.stop(), 0, g.output())
    gateways.pop()
  })

  it('split roles (worker, dispatcher with the sink, api reading ClickHouse): the same', async () => {
    const sim = await startSimProcess([])
    try {
      const carriers = join(dataDir, 'carriers.json')
      writeFileSync(
        carriers,
        JSON.stringify({
          carriers: [
            {
              name: 'sim-smpp',
              type: 'smpp',
              host: '127.0.0.1',
              port: sim.smppPort,
              system_id: 'smsgw',
              password: 'sim',
            },
          ],
        }),
      )
      const split = {
        ...env,
        SMSGW_CARRIERS: carriers,
        SMSGW_WEBHOOK_SECRET_KEY: randomBytes(32).toString('base64'),
        LOG_LEVEL: 'info',
      }
      // Workers first (their durables exist before the dispatcher sizes its window), the api last.
      let api: Gateway | undefined
      for (const role of ['worker', 'dispatcher', 'api'] as const) {
        const g = await startGateway({ dataDir, adminToken: ADMIN, role, env: split })
        gateways.push(g)
        api = g
      }
      const url = (api as Gateway).url
      const { key, id } = await sendDelivered(url, 3)
      const u = await usageWhenCounted(url, key, 3)
      assert.equal(u.data[0]?.messages, 3)
      assert.equal(u.data[0]?.segments, 4)
      await markClickHouse(id)
      await usageWhenCounted(url, key, 4)
      for (const g of gateways.splice(0).reverse()) assert.equal(await g.stop(), 0, g.output().slice(-2000))
    } finally {
      await sim.close()
    }
  })
})

if (skip) it(`ClickHouse e2e skipped: ${skip}`, { skip }, () => {})
