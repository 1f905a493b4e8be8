// GET /v1/usage and the admin reports over rollups of known traffic: exact counts and money,
// grouping, tenancy, and bad input refused with 400 before any read.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { rebuildRollups } from '../../../src/reporting/rollups.ts'
import { ADMIN_TOKEN, createCustomer, startApp, type TestApp, type TestCustomer } from '../../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../../helpers/pg.ts'
import { applyChanges, type GenMessage, idAt, insertMessages, partitionsFor } from './traffic.ts'

const DAY = 86_400_000
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }

interface Period {
  period_start: string
  country?: string
  status?: string
  priority?: string
  messages: number
  segments: number
  cost: { amount: string; currency: string }
  by_status: Record<string, number>
}

describe('GET /v1/usage and admin reports', () => {
  let fresh: FreshDatabase
  let t: TestApp
  let acme: TestCustomer
  let other: TestCustomer
  // Two days ago 10:00 UTC, and yesterday 10:00 UTC.
  const day0 = Math.floor(Date.now() / DAY) * DAY - 2 * DAY
  const at0 = day0 + 10 * 3_600_000
  const at1 = at0 + DAY

  before(async () => {
    fresh = await freshDatabase()
    t = await startApp(fresh.url)
    acme = await createCustomer(t.app, { name: 'acme' })
    other = await createCustomer(t.app, { name: 'other' })
    await partitionsFor(t.db, day0, 3)
    const msg = (
      customerId: string,
      ms: number,
      country: string,
      segments: number,
      priceMicros: number,
    ): GenMessage => ({
      id: idAt(ms),
      createdAt: ms,
      customerId,
      country,
      priority: 'normal',
      segments,
      priceMicros,
    })
    const a1 = msg(acme.id, at0, 'US', 1, 7900)
    const a2 = msg(acme.id, at0 + 30_000, 'GB', 2, 70_000)
    const a3 = msg(acme.id, at0 + 3_600_000, 'US', 1, 7900)
    const a4 = msg(acme.id, at1, 'US', 3, 23_700)
    const o1 = msg(other.id, at1, 'US', 1, 7900)
    await insertMessages(t.db, [a1, a2, a3, a4, o1])
    await applyChanges(t.db, [
      { message: a1, status: 'sent', carrier: 'alpha' },
      { message: a2, status: 'sent', carrier: 'beta' },
      { message: o1, status: 'sent', carrier: 'alpha' },
    ])
    await applyChanges(t.db, [
      { message: a1, status: 'delivered' },
      { message: a2, status: 'undelivered' },
      { message: a3, status: 'failed', refund: true },
      { message: o1, status: 'delivered' },
    ])
    // Receipt latency: sent → delivered 2 s and 4 s after (events with chosen times).
    const sentAt = Date.now() - 3_600_000
    await t.db.query(
      `INSERT INTO message_events (message_id, customer_id, status, created_at) VALUES
         ($1, $3, 'sent', $4), ($1, $3, 'delivered', $5), ($2, $6, 'sent', $4), ($2, $6, 'delivered', $7)`,
      [a1.id, o1.id, acme.id, new Date(sentAt), new Date(sentAt + 2000), other.id, new Date(sentAt + 4000)],
    )
    await rebuildRollups(t.db, day0, Date.now())
  })
  after(async () => {
    await t?.close()
    await fresh?.drop()
  })

  const usage = async (c: TestCustomer, query: string) => {
    const res = await t.app.inject({ method: 'GET', url: `/v1/usage?${query}`, headers: c.auth })
    return {
      status: res.statusCode,
      body: res.json() as { data: Period[]; error?: { code: string; param?: string } },
    }
  }
  const iso = (ms: number) => new Date(ms).toISOString()

  it('daily usage: counts by status, segments, and cost net of refunds, exact', async () => {
    const { status, body } = await usage(acme, `granularity=day&from=${iso(day0)}&to=${iso(day0 + 3 * DAY)}`)
    assert.equal(status, 200)
    assert.deepEqual(body.data, [
      {
        period_start: iso(day0),
        messages: 3,
        segments: 4,
        // 0.0079 + 0.0700 + (0.0079 refunded)
        cost: { amount: '0.0779', currency: 'USD' },
        by_status: { delivered: 1, undelivered: 1, failed: 1 },
      },
      {
        period_start: iso(day0 + DAY),
        messages: 1,
        segments: 3,
        cost: { amount: '0.0237', currency: 'USD' },
        by_status: { queued: 1 },
      },
    ])
  })

  it('hourly and per-minute periods, and group_by=country', async () => {
    const hours = await usage(acme, `granularity=hour&from=${iso(day0)}&to=${iso(day0 + DAY)}`)
    assert.deepEqual(
      hours.body.data.map((p) => [p.period_start, p.messages]),
      [
        [iso(at0), 2],
        [iso(at0 + 3_600_000), 1],
      ],
    )
    const minutes = await usage(acme, `granularity=minute&from=${iso(at0)}&to=${iso(at0 + 120_000)}`)
    assert.deepEqual(
      minutes.body.data.map((p) => [p.period_start, p.messages, p.cost.amount]),
      [[iso(at0), 2, '0.0779']],
    )
    const byCountry = await usage(
      acme,
      `granularity=day&from=${iso(day0)}&to=${iso(day0 + DAY)}&group_by=country`,
    )
    assert.deepEqual(
      byCountry.body.data.map((p) => [p.country, p.messages, p.cost.amount, p.by_status]),
      [
        ['GB', 1, '0.0700', { undelivered: 1 }],
        ['US', 2, '0.0079', { delivered: 1, failed: 1 }],
      ],
    )
  })

  it('group_by=status and group_by=priority name the group in their own key, hour by hour', async () => {
    const range = `granularity=hour&from=${iso(day0)}&to=${iso(day0 + DAY)}`
    const byStatus = await usage(acme, `${range}&group_by=status`)
    assert.deepEqual(
      byStatus.body.data.map((p) => [p.period_start, p.status, p.messages, p.cost.amount, p.by_status]),
      [
        [iso(at0), 'delivered', 1, '0.0079', { delivered: 1 }],
        [iso(at0), 'undelivered', 1, '0.0700', { undelivered: 1 }],
        [iso(at0 + 3_600_000), 'failed', 1, '0.0000', { failed: 1 }],
      ],
    )
    const byPriority = await usage(acme, `${range}&group_by=priority`)
    assert.deepEqual(
      byPriority.body.data.map((p) => [p.period_start, p.priority, p.messages, p.by_status]),
      [
        [iso(at0), 'normal', 2, { delivered: 1, undelivered: 1 }],
        [iso(at0 + 3_600_000), 'normal', 1, { failed: 1 }],
      ],
    )
    assert.ok(byPriority.body.data.every((p) => !('country' in p) && !('status' in p)))
  })

  it('a customer sees only its own usage', async () => {
    const { body } = await usage(other, `granularity=day&from=${iso(day0)}&to=${iso(day0 + 3 * DAY)}`)
    assert.deepEqual(
      body.data.map((p) => [p.period_start, p.messages]),
      [[iso(day0 + DAY), 1]],
    )
  })

  it('bad input is a 400 naming the parameter; the admin token and no token are refused', async () => {
    for (const [query, param] of [
      ['granularity=week', 'granularity'],
      ['from=yesterday', 'from'],
      [`granularity=day&from=${iso(day0 + DAY)}&to=${iso(day0)}`, 'from'],
      [`granularity=minute&from=${iso(day0 - 8 * DAY)}&to=${iso(day0)}`, 'from'],
      ['customer_id=x', undefined],
    ] as const) {
      const { status, body } = await usage(acme, query)
      assert.equal(status, 400, query)
      assert.equal(body.error?.code, 'invalid_request', query)
      if (param) assert.equal(body.error?.param, param, query)
    }
    const asAdmin = await t.app.inject({ method: 'GET', url: '/v1/usage', headers: admin })
    assert.equal(asAdmin.statusCode, 403)
    assert.equal((await t.app.inject({ method: 'GET', url: '/v1/usage' })).statusCode, 401)
  })

  it('top customers by messages and by cost', async () => {
    const get = async (q: string) => {
      const res = await t.app.inject({
        method: 'GET',
        url: `/v1/admin/reports/customers?${q}`,
        headers: admin,
      })
      assert.equal(res.statusCode, 200, res.body)
      return res.json() as {
        data: { customer_id: string; name: string; messages: number; cost: { amount: string } }[]
      }
    }
    const range = `from=${iso(day0)}&to=${iso(day0 + 3 * DAY)}`
    const top = await get(`${range}&order=messages`)
    assert.deepEqual(
      top.data.map((c) => [c.name, c.messages, c.cost.amount]),
      [
        ['acme', 4, '0.1016'],
        ['other', 1, '0.0079'],
      ],
    )
    assert.equal((await get(`${range}&order=cost&limit=1`)).data.length, 1)
    const asCustomer = await t.app.inject({
      method: 'GET',
      url: '/v1/admin/reports/customers',
      headers: acme.auth,
    })
    assert.equal(asCustomer.statusCode, 403)
    const bad = await t.app.inject({
      method: 'GET',
      url: '/v1/admin/reports/customers?limit=0',
      headers: admin,
    })
    assert.equal(bad.statusCode, 400)
  })

  it('carrier report: submitted, delivered ratio, receipt latency p50/p95, errors by kind', async () => {
    // Up to half an hour ago: the receipts with chosen times, not those applyChanges recorded now.
    const url = `/v1/admin/reports/carriers?from=${iso(day0)}&to=${iso(Date.now() - 1_800_000)}`
    const res = await t.app.inject({ method: 'GET', url, headers: admin })
    assert.equal(res.statusCode, 200, res.body)
    const data = (res.json() as { data: Record<string, unknown>[] }).data
    const alpha = data.find((c) => c.carrier === 'alpha')
    const beta = data.find((c) => c.carrier === 'beta')
    assert.deepEqual(alpha, {
      carrier: 'alpha',
      submitted: 2,
      delivered: 2,
      delivered_ratio: 1,
      receipt_latency_ms: { p50: 3000, p95: 3900, receipts: 2 },
      errors: { undelivered: 0, failed: 0, rejected: 0, expired: 0, canceled: 0, unknown: 0 },
    })
    assert.equal(beta?.submitted, 1)
    assert.equal(beta?.delivered_ratio, 0)
    assert.equal((beta?.errors as Record<string, number> | undefined)?.undelivered, 1)
  })
})
