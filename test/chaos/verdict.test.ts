import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { interpretReconcile } from '../../chaos/reconcile.ts'
import { formatTable, runVerdict, type ScenarioResult, tableRow, verdictOf } from '../../chaos/verdict.ts'

const passing = (over: Partial<ScenarioResult> = {}): ScenarioResult => ({
  name: 'kill-api',
  description: 'kill -9 of the api',
  accepted: 3000,
  delivered: 3000,
  final: 3000,
  pending: 0,
  lost: 0,
  duplicates: 0,
  moneyMismatches: 0,
  clientErrors: 0,
  crashes: [],
  recoveryS: 2.5,
  recoveries: [{ fault: 'kill -9 api', at: 6, recoveredAfterS: 2.5, lowestShare: 0 }],
  settleS: 0.4,
  reconcile: { status: 'pass', checks: [{ name: 'nothing lost', ok: true }] },
  details: {},
  ...over,
})

describe('chaos verdict', () => {
  it('passes a clean scenario', () => {
    assert.deepEqual(verdictOf(passing()), { ok: true, failures: [] })
  })

  for (const [what, over, expected] of [
    ['a lost message', { lost: 1 }, /1 accepted messages lost/],
    ['a duplicate at the carrier', { duplicates: 2 }, /2 duplicate submits/],
    ['a money mismatch', { moneyMismatches: 1 }, /1 money mismatches/],
    ['a client that gave up', { clientErrors: 3 }, /never accepted/],
    ['a process that crashed', { crashes: ['worker#0 exited with code 1'] }, /process crashed: worker#0/],
    ['a system that never settled', { settleS: null }, /did not settle/],
    ['a scenario that could not run', { error: 'worker#0 did not become ready' }, /did not complete/],
    ['nothing accepted', { accepted: 0 }, /no message was accepted/],
    [
      'a failed reconcile check',
      { reconcile: { status: 'fail', checks: [{ name: 'money', ok: false }] } },
      /reconcile failed: money/,
    ],
    ['a reconcile that could not run', { reconcile: { status: 'error', detail: 'exit 1' } }, /could not run/],
  ] as const) {
    it(`fails on ${what}`, () => {
      const v = verdictOf(passing(over as Partial<ScenarioResult>))
      assert.equal(v.ok, false)
      assert.match(v.failures.join('\n'), expected)
    })
  }

  it('does not fail on a slow recovery alone (it is a measurement)', () => {
    assert.equal(verdictOf(passing({ recoveryS: null })).ok, true)
  })

  it('fails the run when one scenario fails, and an empty run', () => {
    const v = runVerdict([passing(), passing({ name: 'pg-restart', lost: 4 })])
    assert.equal(v.ok, false)
    assert.deepEqual(v.failures, ['pg-restart: 4 accepted messages lost or stuck'])
    assert.equal(runVerdict([]).ok, false)
    assert.equal(runVerdict([passing()]).ok, true)
  })

  it('renders a row per scenario with the verdict', () => {
    assert.deepEqual(tableRow(passing({ lost: 2, recoveryS: null })), [
      'kill-api',
      '3000',
      '3000/3000',
      '0',
      '2',
      '0',
      '0',
      'n/r',
      '0.4',
      'PASS',
      'FAIL',
    ])
    assert.equal(tableRow(passing({ recoveries: [], recoveryS: null }))[7], '—')
    const table = formatTable([passing(), passing({ name: 'scale-out' })]).split('\n')
    assert.equal(table.length, 4)
    assert.match(table[0]!, /^\| scenario +\| accepted/)
  })
})

describe('reconcile output', () => {
  const report = (ok: boolean) =>
    JSON.stringify({ ok, checks: [{ name: 'money', ok }], totals: {}, settled: true })

  it('is a pass only when the report and the exit code agree', () => {
    assert.equal(interpretReconcile(0, report(true), '').status, 'pass')
    assert.equal(interpretReconcile(1, report(false), '').status, 'fail')
    assert.equal(interpretReconcile(1, report(true), '').status, 'fail')
  })

  it('is an error without a JSON report, unavailable without the command', () => {
    assert.equal(interpretReconcile(1, 'Error: connect ECONNREFUSED', '').status, 'error')
    assert.equal(interpretReconcile(2, '', "smsgw: unknown command 'reconcile'").status, 'unavailable')
  })
})
