// The PromQL reading that the metric-name test relies on: it must find every metric and label an
// expression uses, and nothing else.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { familyOf, labelUses, metricNames, parseExposition } from '../../helpers/ops-files.ts'

describe('PromQL metric and label names', () => {
  it('finds metrics, not functions, keywords, numbers, labels, durations or Grafana variables', () => {
    const expr = `1e6 * histogram_quantile(0.99, sum by (le, priority) (rate(smsgw_delivery_seconds_bucket{priority=~"otp|high"}[$__rate_interval])))
      / on (job) group_left sum without (instance) (rate(process_cpu_seconds_total[5m] offset 1h)) > bool 0.1
      unless max by (lane) (deriv(smsgw_outbox_backlog[5m:30s])) and up == 0`
    assert.deepEqual(metricNames(expr).sort(), [
      'process_cpu_seconds_total',
      'smsgw_delivery_seconds_bucket',
      'smsgw_outbox_backlog',
      'up',
    ])
  })

  it('collects selector labels per metric and grouping labels', () => {
    const { selectors, grouping } = labelUses(
      'sum by (le, route) (rate(a_bucket{method="POST", route="/v1/{x}"}[5m])) / ignoring(code) b{code!~"5.."}',
    )
    assert.deepEqual([...(selectors.get('a_bucket') ?? [])], ['method', 'route'])
    assert.deepEqual([...(selectors.get('b') ?? [])], ['code'])
    assert.deepEqual([...grouping].sort(), ['code', 'le', 'route'])
  })

  it('reads an exposition and maps histogram series to their family', () => {
    const { types, samples } = parseExposition(
      [
        '# HELP h a histogram',
        '# TYPE h histogram',
        'h_bucket{le="0.1",lane="otp"} 1',
        'h_sum{lane="otp"} 0.05',
        'h_count{lane="otp"} 1',
        '# TYPE c counter',
        '# TYPE g gauge',
        'g 3',
      ].join('\n'),
    )
    assert.equal(familyOf('h_bucket', types), 'h')
    assert.equal(familyOf('h_count', types), 'h')
    assert.equal(familyOf('c', types), 'c')
    assert.equal(familyOf('c_count', types), undefined)
    assert.equal(familyOf('missing', types), undefined)
    assert.deepEqual([...(samples.get('h_bucket') ?? [])], ['le', 'lane'])
    assert.equal(samples.has('c'), false)
    assert.deepEqual([...(samples.get('g') ?? [])], [])
  })
})
