import type { App } from '../../../src/api/app.ts'

/** `n` distinct valid US mobile numbers (+1 415 555 01xx style, 555-01xx is reserved for fiction but valid). */
export function usNumbers(n: number, start = 0): string[] {
  return Array.from({ length: n }, (_, i) => `+1415${String(2_000_000 + start + i).padStart(7, '0')}`)
}

export async function postBatch(
  app: App,
  auth: { authorization: string },
  payload: unknown,
  headers: Record<string, string> = {},
) {
  return app.inject({
    method: 'POST',
    url: '/v1/batches',
    headers: { ...auth, ...headers },
    payload: payload as object,
  })
}
