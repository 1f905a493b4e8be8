import { BusSubjectError } from './errors.ts'

/** The stream's subjects when none are configured: every pipeline subject lives under `sms.`. */
export const DEFAULT_SUBJECTS: readonly string[] = ['sms.>']

const TOKEN = /^[^\s.*>]+$/

const isPattern = (s: string) => {
  const tokens = s.split('.')
  return tokens.every((t, i) => t === '*' || (t === '>' && i === tokens.length - 1) || TOKEN.test(t))
}

/** True when subject (no wildcards) matches pattern (NATS wildcards: `*` one token, `>` the rest). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.')
  const s = subject.split('.')
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false
  }
  return p.length === s.length
}

/** True when every subject matched by inner is also matched by outer. */
function patternWithin(outer: string, inner: string): boolean {
  const o = outer.split('.')
  const n = inner.split('.')
  for (let i = 0; i < o.length; i++) {
    if (o[i] === '>') return n.length > i
    const t = n[i]
    if (t === undefined || t === '>' || (o[i] !== '*' && (t === '*' || o[i] !== t))) return false
  }
  return o.length === n.length
}

/** A subject to send to: literal tokens, no wildcards. */
export function assertLiteral(subject: string): void {
  if (!subject.split('.').every((t) => TOKEN.test(t))) {
    throw new BusSubjectError(
      `publish subject must be literal tokens joined by '.': ${JSON.stringify(subject)}`,
    )
  }
}

/**
 * A broadcast subject must be literal and outside the stream: on NATS a plain publish to a
 * stream subject would be stored (without confirmation) like a durable message.
 */
export function assertBroadcastSubject(streamSubjects: readonly string[], subject: string): void {
  assertLiteral(subject)
  if (streamSubjects.some((p) => subjectMatches(p, subject))) {
    throw new BusSubjectError(`broadcast subject ${subject} is stored by the stream; use publish`)
  }
}

/** A publish subject must be literal and stored by the stream, or the message would go nowhere. */
export function assertPublishSubject(streamSubjects: readonly string[], subject: string): void {
  assertLiteral(subject)
  if (!streamSubjects.some((p) => subjectMatches(p, subject))) {
    throw new BusSubjectError(`subject ${subject} is not stored by the stream (${streamSubjects.join(', ')})`)
  }
}

/** A consumer filter must lie inside the stream's subjects (NATS refuses it otherwise). */
export function assertFilterSubject(streamSubjects: readonly string[], filter: string): void {
  if (!isPattern(filter)) throw new BusSubjectError(`invalid filter subject: ${JSON.stringify(filter)}`)
  if (!streamSubjects.some((p) => patternWithin(p, filter))) {
    throw new BusSubjectError(`filter ${filter} is outside the stream (${streamSubjects.join(', ')})`)
  }
}

/** Checks a subscribe pattern: wildcards allowed, no empty tokens. */
export function assertPattern(pattern: string): void {
  if (!isPattern(pattern)) throw new BusSubjectError(`invalid subject pattern: ${JSON.stringify(pattern)}`)
}
