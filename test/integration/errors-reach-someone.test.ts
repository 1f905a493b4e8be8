// Issue 8, item 8: a background failure is logged (once per burst) and counted. A worker whose
// carrier file holds a wrong SMPP password must say so in its log and in /metrics.

import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { simSmppCarrier } from '../../src/carriers/config.ts'
import { type CarrierSim, createCarrierSim } from '../../src/carriers/sim/carrier-sim.ts'
import { BIN } from '../helpers/bin.ts'
import { deleteStream, NATS_URL } from '../helpers/nats.ts'
import { type FreshDatabase, freshDatabase } from '../helpers/pg.ts'
import { waitFor } from '../helpers/wait.ts'

describe('errors reach someone: a worker with a wrong SMPP password', () => {
  let pg: FreshDatabase
  let sim: CarrierSim
  let worker: ChildProcess
  const dir = mkdtempSync(join(tmpdir(), 'smsgw-err-'))
  const stream = `E_${randomBytes(4).toString('hex')}`
  const lines: Record<string, unknown>[] = []

  before(async () => {
    pg = await freshDatabase()
    // The carrier file says password 'sim'; this SMSC wants another.
    sim = await createCarrierSim({ systemId: 'smsgw', password: 'not-the-one' })
    writeFileSync(
      join(dir, 'carriers.json'),
      JSON.stringify({ carriers: [simSmppCarrier('wrongpw', sim.smppPort)] }),
    )
    worker = spawn(process.execPath, [BIN, 'worker'], {
      env: {
        ...process.env,
        DATABASE_URL: pg.url,
        NATS_URL,
        SMSGW_NATS_STREAM: stream,
        SMSGW_NATS_PREFIX: `e${randomBytes(4).toString('hex')}`,
        SMSGW_CARRIERS: join(dir, 'carriers.json'),
        LOG_LEVEL: 'info',
        PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let buf = ''
    worker.stdout?.on('data', (chunk: Buffer) => {
      buf += chunk.toString()
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 1)
        try {
          lines.push(JSON.parse(line))
        } catch {
          lines.push({ raw: line })
        }
      }
    })
  })
  after(async () => {
    if (worker && worker.exitCode === null) {
      worker.kill('SIGTERM')
      await new Promise((r) => worker.once('exit', r))
    }
    await deleteStream(stream)
    await sim?.close()
    await pg?.drop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('logs bind_failed at error level, naming the carrier, and counts it in /metrics', async () => {
    const failed = await waitFor(
      () => lines.find((l) => l.event === 'bind_failed' && l.carrier === 'wrongpw'),
      'a bind_failed log line',
      20_000,
    )
    assert.equal(failed.level, 50, 'logged as an error')
    assert.equal(failed.status, 0x0e, 'ESME_RINVPASWD')
    assert.ok(!JSON.stringify(lines).includes('not-the-one'), 'no password in the log')

    const running = await waitFor(() => lines.find((l) => typeof l.metrics === 'string'), 'the running line')
    const metricsUrl = running.metrics as string
    const counted = await waitFor(
      async () => {
        const text = await (await fetch(metricsUrl)).text()
        const m = /smsgw_carrier_events_total\{carrier="wrongpw",type="bind_failed"\} (\d+)/.exec(text)
        return m && Number(m[1]) >= 2 ? Number(m[1]) : undefined
      },
      'two bind failures counted',
      20_000,
    )
    // Retries within the burst window are counted, not logged again one by one.
    const logged = lines.filter((l) => l.event === 'bind_failed').length
    assert.ok(logged < counted, `${logged} bind_failed lines for ${counted} failures`)
  })
})
