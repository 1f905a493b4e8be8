// What the deploy/ files ask of the gateway's /metrics: the PromQL expressions of the Grafana
// dashboards and the Prometheus rules, the metric names and label names they use, and /metrics
// text parsed into what it declares and what it has samples of.

import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, parseAllDocuments } from 'yaml'

export const DEPLOY = join(import.meta.dirname, '../../deploy')

/** Words of PromQL that are not metric names (aggregation modifiers, set operators, literals). */
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
])

export interface Reference {
  file: string
  expr: string
}

/**
 * Every PromQL expression of deploy/: `expr` in the Grafana dashboards (grafana/*.json) and the
 * rule files (prometheus/*.yml), and `query` of the KEDA triggers in the manifests (k8s/*.yaml).
 */
export function deployExpressions(root = DEPLOY): Reference[] {
  const refs: Reference[] = []
  const walk = (file: string, node: unknown): void => {
    if (Array.isArray(node)) for (const n of node) walk(file, n)
    else if (node && typeof node === 'object')
      for (const [k, v] of Object.entries(node)) {
        if ((k === 'expr' || (k === 'query' && file.startsWith('k8s'))) && typeof v === 'string')
          refs.push({ file, expr: v })
        else walk(file, v)
      }
  }
  const filesIn = (dir: string, ext: string) =>
    readdirSync(join(root, dir))
      .filter((f) => f.endsWith(ext))
      .map((f) => join(dir, f))
  for (const f of filesIn('grafana', '.json')) walk(f, JSON.parse(readFileSync(join(root, f), 'utf8')))
  for (const f of filesIn('prometheus', '.yml')) walk(f, parse(readFileSync(join(root, f), 'utf8')))
  for (const f of filesIn('k8s', '.yaml'))
    for (const d of parseAllDocuments(readFileSync(join(root, f), 'utf8'))) walk(f, d.toJS())
  return refs
}

/** A PromQL expression without strings, Grafana variables, label matchers, ranges and offsets. */
function strip(expr: string): string {
  return expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\$\{[^}]*\}|\$\w+/g, '')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\boffset\s+-?\w+/g, '')
}

/** Metric names an expression reads: identifiers that are not functions, keywords or grouping labels. */
export function metricNames(expr: string): string[] {
  const s = strip(expr).replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
  const names = new Set<string>()
  // Numbers first, so 1e6 or 0.99 are never read as names.
  for (const m of s.matchAll(/(\d+(?:\.\d+)?(?:e[+-]?\d+)?)|([a-zA-Z_:][a-zA-Z0-9_:]*)/gi)) {
    const word = m[2]
    if (!word || KEYWORDS.has(word.toLowerCase())) continue
    const after = s.slice((m.index ?? 0) + word.length).trimStart()
    if (after.startsWith('(')) continue // a function
    names.add(word)
  }
  return [...names]
}

/** Label names an expression uses: in selectors per metric, and in by/without/on/ignoring lists. */
export function labelUses(expr: string): { selectors: Map<string, Set<string>>; grouping: Set<string> } {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\$\{[^}]*\}|\$\w+/g, '')
  const selectors = new Map<string, Set<string>>()
  for (const m of noStrings.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)) {
    const labels = selectors.get(m[1] as string) ?? new Set<string>()
    for (const l of (m[2] as string).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g))
      labels.add(l[1] as string)
    selectors.set(m[1] as string, labels)
  }
  const grouping = new Set<string>()
  for (const m of noStrings.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g))
    for (const l of (m[1] as string).split(',')) if (l.trim()) grouping.add(l.trim())
  return { selectors, grouping }
}

export interface Exposition {
  /** Declared metric families and their type (`# TYPE`). */
  types: Map<string, string>
  /** Sample names seen (with _bucket/_sum/_count) and the label names of their samples. */
  samples: Map<string, Set<string>>
}

/** Parses Prometheus text exposition. */
export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>()
  const samples = new Map<string, Set<string>>()
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (t) types.set(t[1] as string, t[2] as string)
    if (line.startsWith('#') || !line.trim()) continue
    const s = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s/.exec(line)
    if (!s) continue
    const labels = samples.get(s[1] as string) ?? new Set<string>()
    for (const l of (s[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(l[1] as string)
    samples.set(s[1] as string, labels)
  }
  return { types, samples }
}

/** The family a sample name belongs to: itself, or the histogram/summary of a _bucket/_sum/_count. */
export function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name
  const m = /^(.*)_(bucket|sum|count)$/.exec(name)
  const base = m?.[1]
  if (base && (types.get(base) === 'histogram' || types.get(base) === 'summary')) return base
  return undefined
}
