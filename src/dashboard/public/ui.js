// Shared pieces of the page: data loading, tables, charts (uPlot), formatting.

import { html, useEffect, useRef, useState } from '/dashboard/vendor/preact-htm.js'
import uPlot from '/dashboard/vendor/uplot.js'
import { api } from './api.js'

export { html }

/** Loads `path` (again whenever `deps` change, and every `everyMs` if given). */
export function useLoad(path, deps = [], everyMs = 0) {
  const [state, setState] = useState({ loading: true })
  const [tick, setTick] = useState(0)
  useEffect(() => {
    if (!path) return setState({ loading: false })
    let live = true
    api('GET', path).then(
      (data) => live && setState({ data }),
      (error) => live && setState({ error }),
    )
    const t = everyMs ? setTimeout(() => setTick((n) => n + 1), everyMs) : undefined
    return () => {
      live = false
      clearTimeout(t)
    }
  }, [path, tick, ...deps])
  return { ...state, reload: () => setTick((n) => n + 1) }
}

/** What a failed load shows; a 404 on an optional endpoint is "not available", not an error. */
export function LoadError({ error, what }) {
  if (error?.status === 404 && what)
    return html`<p class="note" data-unavailable>${what} is not available on this server (the endpoint answered 404).</p>`
  return html`<p class="error" role="alert">${error?.message ?? 'Failed'}</p>`
}

export function fmtMoney(m) {
  return m && typeof m === 'object' && 'amount' in m
    ? `${m.amount} ${m.currency ?? ''}`.trim()
    : String(m ?? '')
}
export function fmtTime(s) {
  if (!s) return '—'
  const d = new Date(s)
  return Number.isNaN(d.getTime()) ? String(s) : d.toLocaleString()
}
export function fmtNum(x, digits = 1) {
  if (x === null || x === undefined || Number.isNaN(x)) return '—'
  return Number(x).toLocaleString(undefined, { maximumFractionDigits: digits })
}
/** Any value of an endpoint whose shape the page does not know in detail. */
export function fmtAny(v) {
  if (v === null || v === undefined) return '—'
  if (typeof v === 'object' && 'amount' in v) return fmtMoney(v)
  if (typeof v === 'object') return JSON.stringify(v)
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v)) return fmtTime(v)
  return String(v)
}

export function Status({ status }) {
  return html`<span class=${`badge s-${status}`} data-status=${status}>${status}</span>`
}

/** A table that scrolls sideways on a phone (keyboard-scrollable: the wrapper takes focus). */
export function Table({ caption, columns, rows, empty = 'Nothing yet.' }) {
  if (!rows?.length) return html`<p class="note">${empty}</p>`
  return html`<div class="scroll" tabindex="0" role="region" aria-label=${caption}>
    <table>
      <caption>${caption}</caption>
      <thead><tr>${columns.map((c) => html`<th scope="col">${c.label}</th>`)}</tr></thead>
      <tbody>
        ${rows.map(
          (r, i) =>
            html`<tr key=${r.id ?? i}>${columns.map((c) => html`<td>${c.cell ? c.cell(r) : fmtAny(r[c.key])}</td>`)}</tr>`,
        )}
      </tbody>
    </table>
  </div>`
}

/** A table of rows whose fields the page does not know in advance (reports, inbound). */
export function AnyTable({ caption, rows, empty }) {
  const keys = [...new Set((rows ?? []).flatMap((r) => Object.keys(r)))].filter((k) => k !== 'object')
  return html`<${Table} caption=${caption} rows=${rows} empty=${empty} columns=${keys.map((k) => ({ key: k, label: k }))} />`
}

const PALETTE = ['#1f5fbf', '#b3261e', '#1e7b34', '#8a4baf', '#a15c00']

/**
 * A live line chart: `series` = [{label, value: (sample) => number|null}], drawn over `samples`
 * (time in ms as `t`). The latest values are also printed, for screen readers and small screens.
 */
export function Chart({ title, unit, samples, series }) {
  const box = useRef(null)
  const plot = useRef(null)
  const data = [samples.map((s) => s.t / 1000), ...series.map((s) => samples.map((x) => s.value(x)))]
  useEffect(() => {
    const el = box.current
    const width = () => Math.max(260, el.clientWidth)
    plot.current = new uPlot(
      {
        width: width(),
        height: 200,
        legend: { show: true },
        cursor: { show: true },
        series: [
          {},
          ...series.map((s, i) => ({
            label: s.label,
            stroke: PALETTE[i % PALETTE.length],
            width: 2,
            spanGaps: false,
          })),
        ],
        axes: [{}, { label: unit, size: 60 }],
        scales: { y: { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max(1, max ?? 1) * 1.1] } },
      },
      data,
      el,
    )
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: width(), height: 200 }))
    ro.observe(el)
    return () => {
      ro.disconnect()
      plot.current?.destroy()
    }
  }, [])
  useEffect(() => {
    plot.current?.setData(data)
  })
  const last = samples.at(-1)
  const summary = series.map((s) => `${s.label} ${fmtNum(last ? s.value(last) : null, 2)} ${unit}`).join(', ')
  return html`<figure class="chart">
    <figcaption><strong>${title}</strong> <span class="now">${summary}</span></figcaption>
    <div ref=${box} role="img" aria-label=${`${title}: ${summary}`}></div>
  </figure>`
}

/** A form whose submit runs `action` and shows its outcome in a live region. */
export function useAction() {
  const [state, setState] = useState({})
  const run = async (fn, okText) => {
    setState({ busy: true })
    try {
      const result = await fn()
      setState({ ok: typeof okText === 'function' ? okText(result) : okText, result })
      return result
    } catch (error) {
      setState({ error })
    }
  }
  const view = html`<div role="status" class="outcome">
    ${state.ok ? html`<p class="ok">${state.ok}</p>` : null}
    ${state.error ? html`<p class="error">${state.error.message}${state.error.param ? ` (${state.error.param})` : ''}</p>` : null}
  </div>`
  return { ...state, run, view }
}

export const field = (form, name) => form.elements.namedItem(name)?.value?.trim() ?? ''
