// Endpoint signing secrets: `whsec_` + base64 of 32 random bytes, shown to the customer once and
// kept encrypted at rest (AES-256-GCM under the operator's webhook key), since signing needs the
// clear secret: a hash would not do. The key comes from SMSGW_WEBHOOK_SECRET_KEY (base64, 32
// bytes; set it on every api and webhooks process) or, for a single host, a file in the data dir.

import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

export class WebhookKeyError extends Error {
  readonly code = 'invalid_config'
}

/** A new endpoint secret. */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`

/** Parses a base64 key of exactly 32 bytes. */
export function parseWebhookKey(text: string, source: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64')
  if (key.length !== 32) throw new WebhookKeyError(`${source}: must be base64 of 32 bytes`)
  return key
}

/**
 * The operator's webhook key: the environment's, else the one stored in the data dir, else a
 * new one stored there (mode 0600). Called lazily, when a webhook feature is first used.
 */
export function resolveWebhookKey(config: {
  SMSGW_WEBHOOK_SECRET_KEY?: string
  SMSGW_DATA_DIR: string
}): Buffer {
  if (config.SMSGW_WEBHOOK_SECRET_KEY) {
    return parseWebhookKey(config.SMSGW_WEBHOOK_SECRET_KEY, 'SMSGW_WEBHOOK_SECRET_KEY')
  }
  const dir = resolve(config.SMSGW_DATA_DIR)
  const path = join(dir, 'webhook-secret-key')
  if (existsSync(path)) return parseWebhookKey(readFileSync(path, 'utf8'), path)
  mkdirSync(dir, { recursive: true })
  const key = randomBytes(32)
  writeFileSync(path, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' })
  return key
}

const VERSION = 1
/** Which key sealed a secret, so a process with another key fails with a clear message. */
const keyId = (key: Buffer) => createHash('sha256').update(key).digest().subarray(0, 4)

/** version(1) | key id(4) | iv(12) | tag(16) | ciphertext. */
export function sealSecret(key: Buffer, secret: string): Buffer {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()])
  return Buffer.concat([Buffer.of(VERSION), keyId(key), iv, cipher.getAuthTag(), body])
}

export function openSecret(key: Buffer, sealed: Buffer | Uint8Array): string {
  const b = Buffer.from(sealed)
  if (b[0] !== VERSION) throw new WebhookKeyError('webhook secret: unknown format')
  if (!b.subarray(1, 5).equals(keyId(key))) {
    throw new WebhookKeyError(
      'webhook secret sealed with another key: every process needs the same SMSGW_WEBHOOK_SECRET_KEY',
    )
  }
  const decipher = createDecipheriv('aes-256-gcm', key, b.subarray(5, 17))
  decipher.setAuthTag(b.subarray(17, 33))
  return Buffer.concat([decipher.update(b.subarray(33)), decipher.final()]).toString('utf8')
}
