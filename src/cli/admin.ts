import { readFileSync } from 'node:fs'
import { issueApiKey, revokeApiKey } from '../accounts/api-keys.ts'
import { creditCustomer } from '../accounts/credits.ts'
import { listCustomers, onboardCustomer } from '../accounts/customers.ts'
import { listLedger } from '../accounts/ledger.ts'
import { readRates, replaceRates } from '../billing/rates.ts'
import { createNatsBus } from '../bus/nats-bus.ts'
import { KEY_EVICTIONS } from '../bus/subjects.ts'
import type { Config } from '../config/config.ts'
import { formatAmount, parseAmount } from '../domain/money.ts'
import { openDb, prepareDb } from './runtime.ts'
import { ADMIN_USAGE, UsageError } from './usage.ts'

const CURRENCY = 'USD'

const arg = (args: string[], i: number, name: string): string => {
  const v = args[i]
  if (v === undefined) throw new UsageError(`missing <${name}>\n\n${ADMIN_USAGE}`)
  return v
}

/** Running api processes forget the key now rather than within SMSGW_AUTH_CACHE_MS. */
async function announceEviction(config: Config, servers: string, eviction: { keyId: string }) {
  const bus = await createNatsBus({
    servers,
    stream: config.SMSGW_NATS_STREAM,
    ...(config.SMSGW_NATS_PREFIX ? { subjectPrefix: config.SMSGW_NATS_PREFIX } : {}),
  })
  try {
    await bus.broadcast(KEY_EVICTIONS, eviction)
  } finally {
    await bus.close()
  }
}

/** Admin commands run against the database directly, through the same modules as the admin API. */
export async function admin(config: Config, args: string[], out: (s: string) => void): Promise<void> {
  const db = await openDb(config, 'smsgw-admin', { unbounded: true })
  const print = (v: unknown) => out(JSON.stringify(v, null, 2))
  try {
    await prepareDb(db)
    const [group, verb] = args
    const cmd = [group, verb].join(' ')
    if (cmd === 'customers create') {
      const rate = args[3] ? Number(args[3]) : config.SMSGW_DEFAULT_RATE_LIMIT_MPS
      if (!Number.isInteger(rate) || rate < 1)
        throw new UsageError('rate_limit_mps must be a positive integer')
      const r = await db.transaction((tx) =>
        onboardCustomer(tx, {
          name: arg(args, 2, 'name'),
          tier: 'standard',
          rateLimitMps: rate,
          currency: CURRENCY,
          allowedIps: null,
        }),
      )
      print({ id: r.customer.id, name: r.customer.name, api_key: r.secret, api_key_id: r.key.id })
    } else if (cmd === 'customers list') {
      for (const c of await listCustomers(db, 1000))
        print({ id: c.id, name: c.name, balance: formatAmount(c.balanceMicros) })
    } else if (group === 'credit') {
      const id = arg(args, 1, 'customer_id')
      const amount = parseAmount(arg(args, 2, 'amount'))
      const r = await db.transaction((tx) => creditCustomer(tx, id, amount, args[3] ?? null))
      if (!r) throw new UsageError(`no customer ${id}`)
      print({ entry_id: r.entry.id, balance: formatAmount(r.entry.balanceAfterMicros) })
    } else if (cmd === 'keys issue') {
      const r = await issueApiKey(db, arg(args, 2, 'customer_id'))
      print({ id: r.key.id, api_key: r.secret })
    } else if (cmd === 'keys revoke') {
      const k = await revokeApiKey(db, arg(args, 2, 'customer_id'), arg(args, 3, 'key_id'))
      if (!k) throw new UsageError('no such key')
      print({ id: k.id, revoked_at: k.revokedAt })
      if (config.NATS_URL) await announceEviction(config, config.NATS_URL, { keyId: k.id })
    } else if (group === 'ledger') {
      for (const e of await listLedger(db, arg(args, 1, 'customer_id'), 1000)) {
        out(
          `${e.id}\t${e.createdAt.toISOString()}\t${e.kind}\t${formatAmount(e.amountMicros)}\t${formatAmount(e.balanceAfterMicros)}\t${e.messageId ?? e.reference ?? ''}`,
        )
      }
    } else if (cmd === 'rates get') {
      print(await readRates(db, CURRENCY))
    } else if (cmd === 'rates set') {
      const raw = JSON.parse(readFileSync(arg(args, 2, 'file.json'), 'utf8')) as {
        default?: string | null
        countries?: Record<string, string>
      }
      await replaceRates(db, {
        currency: CURRENCY,
        defaultMicros: raw.default ? parseAmount(raw.default) : null,
        countries: Object.fromEntries(
          Object.entries(raw.countries ?? {}).map(([c, p]) => [c, parseAmount(p)]),
        ),
      })
      print(await readRates(db, CURRENCY))
    } else {
      throw new UsageError(ADMIN_USAGE)
    }
  } finally {
    await db.close()
  }
}
