// `smsgw start` (the compiled build) as an operator runs it, for end-to-end tests: spawned on a free
// port with its own data dir, resolved once it listens, plus a JSON client for its API.

import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { BIN } from './bin.ts'

export interface Gateway {
  child: ChildProcess
  url: string
  /** Everything it printed so far (stdout and stderr). */
  output(): string
  /** Resolves with the exit code once the process ended. */
  exited: Promise<number | null>
  /** SIGTERM, then the exit code (SIGKILL after 15 s). */
  stop(): Promise<number | null>
}

/**
 * Starts `smsgw start` on the embedded default (PGlite, in-process bus) unless env says otherwise;
 * or one split role (`url` is then its ops server's, found in its `running` line: LOG_LEVEL info).
 */
export function startGateway(opts: {
  dataDir: string
  adminToken: string
  env?: Record<string, string>
  role?: 'start' | 'api' | 'dispatcher' | 'worker'
}): Promise<Gateway> {
  const child = spawn(process.execPath, [BIN, opts.role ?? 'start'], {
    env: {
      ...process.env,
      PORT: '0',
      SMSGW_DATA_DIR: opts.dataDir,
      LOG_LEVEL: 'info',
      DATABASE_URL: '',
      NATS_URL: '',
      SMSGW_CARRIERS: '',
      SMSGW_WEBHOOK_SECRET_KEY: '',
      SMSGW_ADMIN_TOKEN: opts.adminToken,
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const exited = new Promise<number | null>((r) => child.once('exit', r))
  const stop = async () => {
    if (child.exitCode !== null) return child.exitCode
    child.kill('SIGTERM')
    const kill = setTimeout(() => child.kill('SIGKILL'), 15_000)
    try {
      return await exited
    } finally {
      clearTimeout(kill)
    }
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not listening within 60 s:\n${out}`)), 60_000)
    const onData = (d: Buffer) => {
      out += d
      const m =
        /smsgw is running at (\S+)|"address":"([^"]+)"|"metrics":"([^"]+)\/metrics"[^\n]*"msg":"running"/.exec(
          out,
        )
      const url = m?.[1] ?? m?.[2] ?? m?.[3]
      if (url) {
        clearTimeout(timer)
        resolve({ child, url, output: () => out, exited, stop })
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`exited ${code}:\n${out}`))
    })
  })
}

export interface ApiClient {
  /** Any answer, with its status. */
  call(
    method: string,
    path: string,
    auth: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> }>
  /** A 2xx answer's body; anything else fails the test, naming the request. */
  ok(method: string, path: string, auth: string, body?: unknown): Promise<Record<string, unknown>>
  /** Rates, a customer credited `amount`, its first API key. */
  fundedCustomer(adminToken: string, amount: string): Promise<{ id: string; apiKey: string }>
}

export function apiClient(base: string): ApiClient {
  const call: ApiClient['call'] = async (method, path, auth, body) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${auth}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    })
    return { status: res.status, json: (await res.json()) as Record<string, unknown> }
  }
  const ok: ApiClient['ok'] = async (method, path, auth, body) => {
    const r = await call(method, path, auth, body)
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`)
    return r.json
  }
  return {
    call,
    ok,
    async fundedCustomer(admin, amount) {
      await ok('PUT', '/v1/admin/rates', admin, { currency: 'USD', default: '0.0100', countries: {} })
      const customer = await ok('POST', '/v1/admin/customers', admin, { name: 'e2e' })
      await ok('POST', `/v1/admin/customers/${customer.id}/credits`, admin, { amount, reference: 'e2e' })
      return { id: customer.id as string, apiKey: customer.api_key as string }
    },
  }
}
