import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { toApiError } from '../../src/api/plugins/errors.ts'
import { openDb } from '../../src/cli/runtime.ts'
import { loadConfig } from '../../src/config/config.ts'
import { createPostgresDb, DbPoolTimeoutError } from '../../src/db/postgres.ts'
import { ADMIN_TOKEN, createCustomer, startApp, type TestApp } from '../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../helpers/pg.ts'

/** Resolves with everything the server wrote once it closes the socket; rejects at the deadline. */
function trickle(port: number, head: string, everyMs: number, deadlineMs: number) {
  return new Promise<{ answer: string; bytesSent: number }>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    let bytesSent = 0
    let timer: NodeJS.Timeout | undefined
    const deadline = setTimeout(() => {
      clearInterval(timer)
      socket.destroy()
      reject(new Error(`the server still held the trickled request after ${deadlineMs} ms`))
    }, deadlineMs)
    socket.on('connect', () => {
      socket.write(head)
      timer = setInterval(() => {
        if (socket.writable) {
          socket.write('a')
          bytesSent++
        }
      }, everyMs)
    })
    socket.on('data', (d) => {
      answer += d.toString()
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      clearInterval(timer)
      clearTimeout(deadline)
      resolve({ answer, bytesSent })
    })
  })
}

describe('timeouts and resource limits', () => {
  let pg: FreshDatabase
  const apps: TestApp[] = []
  before(async () => {
    pg = await freshDatabase()
  })
  after(async () => {
    for (const t of apps) await t.close()
    await pg?.drop()
  })

  it('a body trickled byte by byte is cut at SMSGW_REQUEST_TIMEOUT_MS with 408 (real socket)', async () => {
    const t = await startApp(pg.url, {
      env: { SMSGW_REQUEST_TIMEOUT_MS: '1500', SMSGW_HEADERS_TIMEOUT_MS: '1000' },
    })
    apps.push(t)
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    const address = t.app.server.address()
    assert.ok(address && typeof address === 'object')
    // An authenticated route, so the server does wait for the body instead of answering 401 first.
    const head =
      `POST /v1/admin/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\n` +
      'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n'
    // 1,000 bytes at one per 200 ms would take 200 s; the server must give up long before.
    const { answer, bytesSent } = await trickle(address.port, head, 200, 20_000)
    assert.match(answer, /^HTTP\/1\.1 408/)
    assert.ok(bytesSent < 1000, `closed after ${bytesSent} trickled bytes`)
  })

  it('slow headers are cut at SMSGW_HEADERS_TIMEOUT_MS (real socket)', async () => {
    const t = await startApp(pg.url, {
      env: { SMSGW_REQUEST_TIMEOUT_MS: '60000', SMSGW_HEADERS_TIMEOUT_MS: '1000' },
    })
    apps.push(t)
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    const address = t.app.server.address()
    assert.ok(address && typeof address === 'object')
    const { answer } = await trickle(address.port, 'GET /health/live HTTP/1.1\r\nX-Slow: ', 200, 20_000)
    assert.match(answer, /^HTTP\/1\.1 408/)
  })

  it('an exhausted pool answers 503 unavailable with Retry-After, not 500', async () => {
    const db = createPostgresDb({ url: pg.url, poolSize: 1, connectTimeoutMs: 200 })
    const t = await startApp(pg.url, { db })
    apps.push(t)
    const c = await createCustomer(t.app)
    let release = () => {}
    const held = new Promise<void>((r) => {
      release = r
    })
    let holding = () => {}
    const isHolding = new Promise<void>((r) => {
      holding = r
    })
    const tx = db.transaction(async () => {
      holding()
      await held
    })
    try {
      await isHolding
      await assert.rejects(db.query('SELECT 1'), DbPoolTimeoutError)
      const res = await t.app.inject({ url: '/v1/balance', headers: c.auth })
      assert.equal(res.statusCode, 503, res.body)
      assert.equal(res.json().error.code, 'unavailable')
      assert.equal(res.headers['retry-after'], '1')
    } finally {
      release()
      await tx
      await db.close()
    }
  })

  it('statement_timeout caps the api pools (503 when hit) but not migrations and maintenance', async () => {
    const config = loadConfig({ DATABASE_URL: pg.url, SMSGW_STATEMENT_TIMEOUT_MS: '300' })
    const bounded = await openDb(config, 'test-api')
    const unbounded = await openDb(config, 'test-maintenance', { unbounded: true })
    try {
      const show = async (db: typeof bounded) =>
        (await db.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0]?.statement_timeout
      assert.equal(await show(bounded), '300ms')
      assert.equal(await show(unbounded), '0')
      const err = await bounded.query('SELECT pg_sleep(5)').then(
        () => assert.fail('pg_sleep(5) outlived a 300 ms statement_timeout'),
        (e: unknown) => e,
      )
      assert.equal((err as { code?: string }).code, '57014')
      const api = toApiError(err)
      assert.equal(api.statusCode, 503)
      assert.equal(api.code, 'unavailable')
    } finally {
      await bounded.close()
      await unbounded.close()
    }
    const defaults = loadConfig({})
    assert.equal(defaults.SMSGW_STATEMENT_TIMEOUT_MS, 30_000)
  })
})
