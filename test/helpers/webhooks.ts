import { randomBytes } from 'node:crypto'
import { signWebhook } from '../../src/carriers/webhook-auth.ts'

/**
 * An inject() request for a provider endpoint, signed as a carrier with `secret` would sign it
 * (Standard Webhooks, the `standardwebhooks` package). A string is sent as it is (raw bytes);
 * `at` back-dates the signature.
 */
export function signedPost(
  url: string,
  json: unknown,
  secret: string,
  opts: { at?: Date; ip?: string } = {},
) {
  const payload = typeof json === 'string' ? json : JSON.stringify(json)
  return {
    method: 'POST' as const,
    url,
    payload,
    headers: {
      'content-type': 'application/json',
      ...signWebhook(secret, `msg_${randomBytes(8).toString('hex')}`, payload, opts.at),
    },
    ...(opts.ip ? { remoteAddress: opts.ip } : {}),
  }
}
