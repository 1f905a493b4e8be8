import assert from 'node:assert/strict'
import { test } from 'node:test'
import { renderHtml } from '../../../bench/sim/html.ts'
import { formatSummary } from '../../../bench/sim/summary.ts'
import { fixtureResult } from './sim-fixture.ts'

test('the HTML report is self-contained, with one SVG per chart', () => {
  const html = renderHtml(fixtureResult())
  const svgs = html.match(/<svg[\s>]/g) ?? []
  assert.equal(svgs.length, 6)
  assert.equal((html.match(/<\/svg>/g) ?? []).length, 6)
  for (const title of [
    'Throughput per second',
    'Accept latency per second',
    'Delivery latency by priority',
    'p95 delivery latency by priority',
    'small customers vs whales',
    'p95 delivery latency over time',
  ]) {
    assert.ok(html.includes(title), title)
  }
  // Nothing loaded from elsewhere, nothing run.
  assert.doesNotMatch(html, /<script|<link|<img|src=|url\(/i)
  for (const chart of html.match(/<svg[\s\S]*?<\/svg>/g) ?? []) {
    assert.match(chart, /<path d="M[\d.,LMZ\s-]+"|<rect /, 'a chart without data marks')
  }
})

test('the HTML report shows the measured numbers and escapes text', () => {
  const html = renderHtml(fixtureResult())
  // Whales are delivered 2 s after acceptance, small customers 500 ms (fixture).
  assert.ok(html.includes('<td>whales p95</td><td>2.00 s'), 'whale p95')
  assert.ok(
    html.includes('<td>small customers p95, whales flooding</td><td>500 ms'),
    'small p95 while flooding',
  )
  assert.ok(html.includes('500 × 2'), 'errors')
  assert.ok(html.includes('FAIL'), 'failed reconciliation')
  assert.ok(html.includes('sum(ledger) &lt;&gt; balance'))
  assert.ok(html.includes('a note with &lt;markup&gt; &amp; more'))
  assert.ok(html.includes('Test &lt;CPU&gt;'))
  assert.ok(!html.includes('<markup>'))
})

test('the summary lists the measured figures and the file paths', () => {
  const r = fixtureResult()
  const text = formatSummary(r, { json: 'out/sim.json', html: 'out/sim.html' })
  for (const part of [
    'accepted (sustained)',
    'delivery p95 otp',
    'delivery p95 bulk',
    'small customers p95, whales flooding  500 ms',
    'whales p95',
    '2.00 s',
    '500 × 2',
    `not final after drain`,
    'reconciliation',
    'FAIL (1 of 2 checks failed)',
    'out/sim.json',
    'out/sim.html',
  ]) {
    assert.ok(text.includes(part), `${part} in\n${text}`)
  }
})

test('the summary splits the delivery latency by stage', () => {
  const text = formatSummary(fixtureResult(), { json: 'r.json', html: 'r.html' })
  // Small customers: 500 ms = 100 to the claim + 200 to sent + 200 after sent (receipt delay off).
  assert.match(
    text,
    /small in floods p95 by stage +to claim 100 ms, claim → sent 200 ms, sent → delivered 200 ms/,
  )
  assert.match(text, /whales p95 by stage +to claim 100 ms, claim → sent 900 ms, sent → delivered 1\.00 s/)
})
