// The customers' webhook receiver of the webhook scenarios: one path per customer, every request
// verified with that endpoint's secret (Standard Webhooks), ids de-duplicated; it can be taken
// down (connections refused) and brought back on the same port.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'

export interface WebhookReceiver {
  /** Where customer `i` registers its endpoint. */
  url(path: string): string
  /** Verifies requests on `path` with this secret from now on. */
  expect(path: string, secret: string): void
  down(): Promise<void>
  up(): Promise<void>
  stats(): { requests: number; unique: number; badSignatures: number }
  /** Unique event ids received per path. */
  ids(path: string): Set<string>
  close(): Promise<void>
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const verifiers = new Map<string, Webhook>()
  const byPath = new Map<string, Set<string>>()
  let requests = 0
  let badSignatures = 0
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      requests++
      const path = req.url ?? '/'
      const wh = verifiers.get(path)
      try {
        if (!wh) throw new Error('unknown path')
        const event = wh.verify(
          Buffer.concat(chunks).toString('utf8'),
          req.headers as Record<string, string>,
        ) as {
          id: string
        }
        const seen = byPath.get(path) ?? new Set<string>()
        seen.add(event.id)
        byPath.set(path, seen)
        res.writeHead(204).end()
      } catch {
        badSignatures++
        res.writeHead(400).end()
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    expect: (path, secret) => verifiers.set(path, new Webhook(secret)),
    async down() {
      const closed = new Promise<void>((r) => server.close(() => r()))
      server.closeAllConnections()
      await closed
    },
    async up() {
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r))
    },
    stats: () => ({
      requests,
      unique: [...byPath.values()].reduce((n, s) => n + s.size, 0),
      badSignatures,
    }),
    ids: (path) => byPath.get(path) ?? new Set(),
    async close() {
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}
