import { invalidRequest } from './errors.ts'

/** Cursors are opaque to clients: the last item's sort key, base64url-encoded. */
export const encodeCursor = (key: string | number): string => Buffer.from(String(key)).toString('base64url')

export function decodeCursor(
  cursor: string | undefined,
  valid: (key: string) => boolean,
): string | undefined {
  if (cursor === undefined || cursor === '') return undefined
  const key = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString() : ''
  if (!valid(key)) throw invalidRequest('cursor is not valid', 'cursor')
  return key
}

/** Builds the list envelope from limit+1 fetched rows. */
export function page<T, R>(rows: T[], limit: number, key: (t: T) => string | number, render: (t: T) => R) {
  const hasMore = rows.length > limit
  const items = hasMore ? rows.slice(0, limit) : rows
  const last = items.at(-1)
  return {
    data: items.map(render),
    has_more: hasMore,
    next_cursor: hasMore && last !== undefined ? encodeCursor(key(last)) : null,
  }
}
