import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { describe, it, mock } from 'node:test'
import pino from 'pino'
import { Registry } from 'prom-client'
import { createReporter } from '../../../src/observability/reporter.ts'

function capture() {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l))
      done()
    },
  })
  return { lines, logger: pino({ level: 'debug' }, stream) }
}

describe('reporter', () => {
  it('counts every failure but logs a burst of the same one once, then the folded count', async () => {
    mock.timers.enable({ apis: ['setTimeout'] })
    try {
      const { lines, logger } = capture()
      const registry = new Registry()
      const r = createReporter({ logger, registry, burstMs: 1000 })
      const err = Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' })
      for (let i = 0; i < 50; i++) r.error('dispatcher', err)
      r.error('worker', new TypeError('x'))
      assert.equal(lines.length, 2, 'one line per (where, kind) within the window')
      assert.equal(lines[0]?.where, 'dispatcher')
      assert.equal(lines[0]?.kind, 'ECONNREFUSED')
      mock.timers.tick(1000)
      const repeat = lines.find((l) => l.repeated !== undefined)
      assert.equal(repeat?.repeated, 49)
      const text = await registry.metrics()
      assert.match(text, /smsgw_background_errors_total\{where="dispatcher",kind="ECONNREFUSED"\} 50/)
      assert.match(text, /smsgw_background_errors_total\{where="worker",kind="TypeError"\} 1/)
      // A new window logs again.
      r.error('dispatcher', err)
      assert.equal(lines.filter((l) => l.where === 'dispatcher' && l.repeated === undefined).length, 2)
      r.close()
    } finally {
      mock.timers.reset()
    }
  })

  it('logs SMPP link events by severity and never the raw text of an unreadable receipt', async () => {
    const { lines, logger } = capture()
    const registry = new Registry()
    const r = createReporter({ logger, registry })
    r.carrierEvent('a', { type: 'bound' })
    r.carrierEvent('a', { type: 'bind_failed', status: 14 })
    r.carrierEvent('a', { type: 'receipt_unreadable', raw: 'id:1 text:Your code is 481516' })
    r.close()
    assert.deepEqual(
      lines.map((l) => [l.event, l.level]),
      [
        ['bound', 30],
        ['bind_failed', 50],
        ['receipt_unreadable', 40],
      ],
    )
    assert.ok(!JSON.stringify(lines).includes('481516'))
    assert.match(await registry.metrics(), /smsgw_carrier_events_total\{carrier="a",type="bind_failed"\} 1/)
  })
})
