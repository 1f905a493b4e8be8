// Inline SVG charts for the HTML report (no scripts, no external files): d3-scale for axes and
// nice ticks, d3-shape for the line paths; everything else is plain markup.
import { scaleBand, scaleLinear } from 'd3-scale'
import { line } from 'd3-shape'

export const esc = (s: string) =>
  s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')

export interface Line {
  name: string
  color: string
  /** [x, y]; y null leaves a gap. */
  points: readonly (readonly [number, number | null])[]
  dashed?: boolean
}

export interface Band {
  from: number
  to: number
  label: string
}

export interface LineChartSpec {
  title: string
  xLabel: string
  yLabel: string
  lines: readonly Line[]
  bands?: readonly Band[]
  /** Vertical markers, e.g. the end of the load. */
  markers?: readonly { x: number; label: string }[]
  width?: number
  height?: number
}

const M = { top: 30, right: 16, bottom: 42, left: 64 }
const fmt = (v: number) => (Math.abs(v) >= 1000 ? `${+(v / 1000).toFixed(1)}k` : `${+v.toFixed(2)}`)

function frame(title: string, width: number, height: number, body: string, legend: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ` +
    `role="img" aria-label="${esc(title)}" font-family="system-ui, sans-serif" font-size="11">` +
    `<title>${esc(title)}</title>` +
    `<text x="${M.left}" y="16" font-size="13" font-weight="600">${esc(title)}</text>${body}${legend}</svg>`
  )
}

function legendOf(
  items: readonly { name: string; color: string; dashed?: boolean }[],
  width: number,
): string {
  let x = width - M.right
  const parts: string[] = []
  for (const item of [...items].reverse()) {
    const w = 26 + item.name.length * 6.2
    x -= w
    parts.push(
      `<line x1="${x}" y1="12" x2="${x + 18}" y2="12" stroke="${item.color}" stroke-width="3"${item.dashed ? ' stroke-dasharray="4 3"' : ''}/>` +
        `<text x="${x + 22}" y="16">${esc(item.name)}</text>`,
    )
  }
  return parts.join('')
}

export function lineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 880
  const height = spec.height ?? 280
  const xs = spec.lines.flatMap((l) => l.points.map((p) => p[0]))
  const ys = spec.lines.flatMap((l) => l.points.map((p) => p[1]).filter((y): y is number => y !== null))
  const x = scaleLinear()
    .domain([Math.min(0, ...xs), Math.max(1, ...xs)])
    .range([M.left, width - M.right])
  const y = scaleLinear()
    .domain([0, Math.max(1e-9, ...ys)])
    .nice()
    .range([height - M.bottom, M.top])
  const bands = (spec.bands ?? [])
    .map(
      (b) =>
        `<rect x="${x(b.from)}" y="${M.top}" width="${Math.max(0, x(b.to) - x(b.from))}" height="${height - M.bottom - M.top}" fill="#f4a261" fill-opacity="0.12"><title>${esc(b.label)}</title></rect>`,
    )
    .join('')
  const markers = (spec.markers ?? [])
    .map(
      (m) =>
        `<line x1="${x(m.x)}" y1="${M.top}" x2="${x(m.x)}" y2="${height - M.bottom}" stroke="#888" stroke-dasharray="3 3"/>` +
        `<text x="${x(m.x) + 3}" y="${M.top + 10}" fill="#666">${esc(m.label)}</text>`,
    )
    .join('')
  const path = line<readonly [number, number | null]>()
    .defined((p) => p[1] !== null)
    .x((p) => x(p[0]))
    .y((p) => y(p[1] ?? 0))
  const lines = spec.lines
    .map(
      (l) =>
        `<path d="${path(l.points) ?? ''}" fill="none" stroke="${l.color}" stroke-width="1.6"${l.dashed ? ' stroke-dasharray="5 3"' : ''}><title>${esc(l.name)}</title></path>`,
    )
    .join('')
  return frame(
    spec.title,
    width,
    height,
    bands + axes(x, y, width, height, spec) + markers + lines,
    legendOf(spec.lines, width),
  )
}

type Scale = { ticks(n: number): number[]; (v: number): number }

/** Tick lines and labels of an axis; `{}` in the label markup is replaced by the tick value. */
function ticks(scale: Scale, count: number, at: (v: number) => { line: string; label: string }): string {
  return scale
    .ticks(count)
    .map((t) => {
      const { line, label } = at(scale(t))
      return `${line}${label.replace('{}', fmt(t))}`
    })
    .join('')
}

function axes(
  x: Scale,
  y: Scale,
  width: number,
  height: number,
  spec: { xLabel: string; yLabel: string },
): string {
  const base = height - M.bottom
  const xt = ticks(x, 10, (v) => ({
    line: `<line x1="${v}" y1="${base}" x2="${v}" y2="${base + 4}" stroke="#333"/>`,
    label: `<text x="${v}" y="${base + 16}" text-anchor="middle">{}</text>`,
  }))
  return yAxis(y, width, spec.yLabel) + xt + xAxisLine(width, height, spec.xLabel)
}

function yAxis(y: Scale, width: number, label: string): string {
  const yt = ticks(y, 6, (v) => ({
    line: `<line x1="${M.left}" y1="${v}" x2="${width - M.right}" y2="${v}" stroke="#e5e5e5"/>`,
    label: `<text x="${M.left - 6}" y="${v + 4}" text-anchor="end">{}</text>`,
  }))
  return `${yt}<text transform="translate(14 ${M.top + 60}) rotate(-90)" text-anchor="end">${esc(label)}</text>`
}

function xAxisLine(width: number, height: number, label: string): string {
  return (
    `<line x1="${M.left}" y1="${height - M.bottom}" x2="${width - M.right}" y2="${height - M.bottom}" stroke="#333"/>` +
    `<text x="${(M.left + width - M.right) / 2}" y="${height - 6}" text-anchor="middle">${esc(label)}</text>`
  )
}

export interface BarChartSpec {
  title: string
  yLabel: string
  groups: readonly string[]
  series: readonly { name: string; color: string; values: readonly number[] }[]
  width?: number
  height?: number
}

/** Grouped bars with the value printed on each bar. */
export function barChart(spec: BarChartSpec): string {
  const width = spec.width ?? 880
  const height = spec.height ?? 280
  const outer = scaleBand<string>()
    .domain([...spec.groups])
    .range([M.left, width - M.right])
    .padding(0.25)
  const inner = scaleBand<string>()
    .domain(spec.series.map((s) => s.name))
    .range([0, outer.bandwidth()])
    .padding(0.08)
  const max = Math.max(1e-9, ...spec.series.flatMap((s) => s.values))
  const y = scaleLinear()
    .domain([0, max])
    .nice()
    .range([height - M.bottom, M.top])
  const bars = spec.series
    .flatMap((s) =>
      spec.groups.map((g, k) => {
        const v = s.values[k] ?? 0
        const bx = (outer(g) ?? 0) + (inner(s.name) ?? 0)
        return (
          `<rect x="${bx}" y="${y(v)}" width="${inner.bandwidth()}" height="${height - M.bottom - y(v)}" fill="${s.color}"><title>${esc(`${g} ${s.name}: ${fmt(v)}`)}</title></rect>` +
          `<text x="${bx + inner.bandwidth() / 2}" y="${y(v) - 3}" text-anchor="middle" font-size="10">${fmt(v)}</text>`
        )
      }),
    )
    .join('')
  const labels = spec.groups
    .map(
      (g) =>
        `<text x="${(outer(g) ?? 0) + outer.bandwidth() / 2}" y="${height - M.bottom + 16}" text-anchor="middle">${esc(g)}</text>`,
    )
    .join('')
  return frame(
    spec.title,
    width,
    height,
    yAxis(y, width, spec.yLabel) + xAxisLine(width, height, '') + bars + labels,
    legendOf(spec.series, width),
  )
}
