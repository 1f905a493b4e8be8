// The compliance keywords of API.md ("Inbound, opt-outs, senders"): the first word of an inbound
// message, case-insensitive. Pure.

export type KeywordAction = 'opt_out' | 'opt_in' | 'help'

const ACTIONS: ReadonlyMap<string, KeywordAction> = new Map([
  ...['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT'].map((k) => [k, 'opt_out'] as const),
  ...['START', 'UNSTOP', 'YES'].map((k) => [k, 'opt_in'] as const),
  ...['HELP', 'INFO'].map((k) => [k, 'help'] as const),
])

/** The body's words, upper-cased, split on whitespace and trailing punctuation ("Stop." is STOP). */
export function wordsOf(body: string, max = 2): string[] {
  return body
    .trim()
    .split(/\s+/, max)
    .map((w) => w.replace(/[.!?,;:]+$/u, '').toUpperCase())
    .filter((w) => w.length > 0)
}

/** What the first word asks for, or undefined for an ordinary message. */
export function keywordAction(word: string | undefined): KeywordAction | undefined {
  return word === undefined ? undefined : ACTIONS.get(word)
}

/** A keyword a customer may hold on a shared short code: 1–20 letters/digits, never a compliance word. */
export const CUSTOMER_KEYWORD = /^[A-Z0-9]{1,20}$/

export const isReservedKeyword = (word: string) => ACTIONS.has(word)

/** Replies sent when a customer configured none. */
export const DEFAULT_REPLIES: Record<KeywordAction, string> = {
  opt_out:
    'You have been unsubscribed and will receive no more messages from this number. Reply START to resubscribe.',
  opt_in: 'You have been resubscribed. Reply STOP to unsubscribe.',
  help: 'Reply STOP to unsubscribe, START to resubscribe. Msg&data rates may apply.',
}
