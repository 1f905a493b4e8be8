import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { BIN } from '../helpers/bin.ts'
import { emptyDatabase, type FreshDatabase } from '../helpers/pg.ts'

const exec = promisify(execFile)

describe('smsgw CLI against PostgreSQL', () => {
  let pg: FreshDatabase
  before(async () => {
    pg = await emptyDatabase()
  })
  after(async () => pg?.drop())

  const smsgw = async (...args: string[]) => {
    try {
      const r = await exec(process.execPath, [BIN, ...args], {
        env: { ...process.env, DATABASE_URL: pg.url, LOG_LEVEL: 'warn' },
        timeout: 60_000,
      })
      return { code: 0, stdout: r.stdout, stderr: r.stderr }
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string }
      return { code: e.code, stdout: e.stdout, stderr: e.stderr }
    }
  }

  it('migrate, create a customer, set rates, credit, read the ledger', async () => {
    const m = await smsgw('migrate')
    assert.equal(m.code, 0, m.stderr)
    assert.match(m.stdout, /applied: 0001_init/)
    assert.match((await smsgw('migrate')).stdout, /up to date/)

    const created = await smsgw('admin', 'customers', 'create', 'Acme', '50')
    assert.equal(created.code, 0, created.stderr)
    const customer = JSON.parse(created.stdout) as { id: string; api_key: string }
    assert.match(customer.api_key, /^sk_/)

    const ratesFile = join(tmpdir(), `rates-${process.pid}.json`)
    writeFileSync(ratesFile, JSON.stringify({ default: '0.0100', countries: { US: '0.0079' } }))
    const rates = await smsgw('admin', 'rates', 'set', ratesFile)
    assert.equal(rates.code, 0, rates.stderr)
    assert.deepEqual(JSON.parse(rates.stdout), {
      currency: 'USD',
      defaultMicros: 10_000,
      countries: { US: 7900 },
    })

    const credit = await smsgw('admin', 'credit', customer.id, '12.50', 'inv-1')
    assert.equal(credit.code, 0, credit.stderr)
    assert.equal(JSON.parse(credit.stdout).balance, '12.5000')

    const ledger = await smsgw('admin', 'ledger', customer.id)
    assert.match(ledger.stdout, /\tcredit\t12\.5000\t12\.5000\tinv-1/)
  })

  it('fails with a non-zero exit and a clear message on bad input', async () => {
    const unknown = await smsgw('frobnicate')
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /unknown command 'frobnicate'/)
    const badEnv = await exec(process.execPath, [BIN, 'migrate'], {
      env: { ...process.env, PORT: 'eighty' },
    }).catch((e: { code: number; stderr: string }) => e)
    assert.equal((badEnv as { code: number }).code, 2)
    assert.match((badEnv as { stderr: string }).stderr, /PORT/)
    // An HTTP carrier whose webhooks anyone could post is refused at start-up, by name.
    const carriers = join(tmpdir(), `smsgw-carriers-${process.pid}.json`)
    writeFileSync(
      carriers,
      JSON.stringify({ carriers: [{ name: 'open-http', type: 'http', url: 'http://127.0.0.1:9/sms' }] }),
    )
    const insecure = await exec(process.execPath, [BIN, 'start'], {
      env: { ...process.env, DATABASE_URL: pg.url, SMSGW_CARRIERS: carriers, PORT: '0' },
      timeout: 60_000,
    }).catch((e: { code: number; stderr: string }) => e)
    assert.equal((insecure as { code: number }).code, 2)
    assert.match((insecure as { stderr: string }).stderr, /open-http.*needs webhook_secret or allowed_ips/)
    const badAmount = await smsgw('admin', 'credit', '01a20308-83da-77fc-8c9b-0dadac19c90c', '1e3')
    assert.equal(badAmount.code, 2)
    assert.match(badAmount.stderr, /amount/i)
  })

  it('the production CLI has no bench command: the harness is a dev tool (npm run bench)', async () => {
    const bench = await smsgw('bench', 'sim')
    assert.equal(bench.code, 2)
    assert.match(bench.stderr, /unknown command 'bench'/)
    assert.match(bench.stderr, /npm run bench -- accept\|e2e\|sim/)
  })

  it('carrier-sim --help prints its flags and exits 0; a bad flag is one line, exit 2', async () => {
    const help = await smsgw('carrier-sim', '--help')
    assert.equal(help.code, 0, help.stderr)
    assert.match(help.stdout, /usage: smsgw carrier-sim/)
    const bad = await smsgw('carrier-sim', '--latency-ms', 'soon')
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /^smsgw: --latency-ms/)
    assert.doesNotMatch(bad.stderr, /at parseCarrierSimArgs/)
  })
})
