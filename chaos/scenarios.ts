// The fault scenarios and the two run profiles (short for CI, long for the full figures).

import type { Gateway, Role, Shape } from './gateway.ts'
import type { Infra } from './infra.ts'
import { sleep } from './processes.ts'
import type { SimHandle } from './sims.ts'
import type { WebhookReceiver } from './webhook-receiver.ts'

export interface Profile {
  name: 'short' | 'long'
  ratePerSec: number
  durationS: number
  customers: number
  /** Seconds into the load at which the kills / restarts happen. */
  faultTimesS: number[]
  /** How long a stopped server stays down before it is started again. */
  downS: number
  /** Length of the carrier outage and of the throttling. */
  outageS: number
  outageAtS: number
  settleTimeoutS: number
}

export const PROFILES: Record<Profile['name'], Profile> = {
  short: {
    name: 'short',
    ratePerSec: 150,
    durationS: 16,
    customers: 20,
    faultTimesS: [5, 10],
    downS: 1,
    outageS: 5,
    outageAtS: 5,
    settleTimeoutS: 200,
  },
  long: {
    name: 'long',
    ratePerSec: 200,
    durationS: 100,
    customers: 50,
    faultTimesS: [15, 30, 45, 60],
    downS: 5,
    outageS: 30,
    outageAtS: 20,
    settleTimeoutS: 420,
  },
}

/** A window during which a fault was in force (start = end for a kill -9). */
export interface FaultMark {
  fault: string
  start: number
  end: number
}

export interface FaultContext {
  profile: Profile
  gateway: Gateway
  infra: Infra
  primary: SimHandle
  secondary: SimHandle
  /** Resolves `s` seconds after the load started. */
  at(s: number): Promise<void>
  mark(m: FaultMark): void
  log(line: string): void
  /** The customers' webhook receiver (scenarios with `webhooks`). */
  receiver?: WebhookReceiver
}

export interface Scenario {
  name: string
  description: string
  shape: Shape
  /** `sent` messages at this carrier are pending, not stuck (it never sends receipts). */
  silentCarrier?: string
  /** Every customer registers a webhook endpoint at a receiver; every event must reach it. */
  webhooks?: boolean
  inject(ctx: FaultContext): Promise<void>
}

const ONE_EACH: Shape = { api: 1, dispatcher: 1, worker: 1 }

function killScenario(role: Role): Scenario {
  return {
    name: `kill-${role}`,
    description: `kill -9 of the ${role} process, started again at once (as a supervisor does)`,
    shape: role === 'webhooks' ? { ...ONE_EACH, webhooks: 1 } : ONE_EACH,
    ...(role === 'webhooks' ? { webhooks: true } : {}),
    async inject(ctx) {
      for (const t of ctx.profile.faultTimesS) {
        await ctx.at(t)
        const r = await ctx.gateway.killAndRestart(role, 0)
        ctx.log(
          `    kill -9 ${role}: back in ${((r.readyAt - r.killedAt) / 1000).toFixed(1)} s ` +
            `(restart to ready ${((r.readyAt - r.restartedAt) / 1000).toFixed(1)} s)`,
        )
        ctx.mark({ fault: `kill -9 ${role}`, start: r.killedAt, end: r.killedAt })
      }
    },
  }
}

/** A server of the run stopped at each fault time, down for `downS`, then started again. */
function restartScenario(
  name: string,
  description: string,
  faults: [string, string],
  stop: (ctx: FaultContext, i: number) => Promise<void>,
  start: (ctx: FaultContext) => Promise<void>,
): Scenario {
  return {
    name,
    description,
    shape: ONE_EACH,
    async inject(ctx) {
      for (const [i, t] of ctx.profile.faultTimesS.entries()) {
        await ctx.at(t)
        const fault = faults[i % 2]!
        const begin = Date.now()
        await stop(ctx, i)
        await sleep(ctx.profile.downS * 1000)
        await start(ctx)
        const end = Date.now()
        ctx.log(`    ${fault}: back after ${((end - begin) / 1000).toFixed(1)} s`)
        ctx.mark({ fault, start: begin, end })
      }
    },
  }
}

export const SCENARIOS: Scenario[] = [
  killScenario('api'),
  killScenario('dispatcher'),
  killScenario('worker'),
  restartScenario(
    'nats-restart',
    'the NATS server stopped and started again (graceful stop, then kill -9 on later restarts)',
    ['nats stop + start', 'nats kill -9 + start'],
    (ctx, i) => ctx.infra.nats.stop(i % 2 === 0 ? 'graceful' : 'kill'),
    (ctx) => ctx.infra.nats.start(),
  ),
  restartScenario(
    'pg-restart',
    'PostgreSQL stopped and started again (fast shutdown, then immediate = crash recovery)',
    ['postgres fast stop + start', 'postgres immediate stop + start'],
    (ctx, i) => ctx.infra.pg.stop(i % 2 === 0 ? 'fast' : 'immediate'),
    (ctx) => ctx.infra.pg.start(),
  ),
  {
    name: 'carrier-outage',
    description: 'the primary carrier down (binds refused, sessions dropped), then back',
    shape: ONE_EACH,
    async inject(ctx) {
      await ctx.at(ctx.profile.outageAtS)
      const start = Date.now()
      await ctx.primary.setOptions({ outage: true })
      await sleep(ctx.profile.outageS * 1000)
      await ctx.primary.setOptions({ outage: false })
      ctx.mark({ fault: `primary outage ${ctx.profile.outageS} s`, start, end: Date.now() })
    },
  },
  {
    name: 'throttle',
    description:
      'every carrier throttles (ESME_RTHROTTLED past a cap far below the offered rate), then lifts',
    shape: ONE_EACH,
    async inject(ctx) {
      await ctx.at(ctx.profile.outageAtS)
      const start = Date.now()
      // Together a third of the offered rate.
      const cap = Math.max(1, Math.round(ctx.profile.ratePerSec / 6))
      await Promise.all([ctx.primary, ctx.secondary].map((s) => s.setOptions({ throughputPerSec: cap })))
      await sleep(ctx.profile.outageS * 1000)
      await Promise.all([ctx.primary, ctx.secondary].map((s) => s.setOptions({ throughputPerSec: null })))
      ctx.mark({
        fault: `all carriers capped at ${cap}/s for ${ctx.profile.outageS} s`,
        start,
        end: Date.now(),
      })
    },
  },
  {
    name: 'no-receipts',
    description: 'the secondary carrier stops sending delivery receipts for good (its messages stay sent)',
    shape: ONE_EACH,
    silentCarrier: 'sim-b',
    async inject(ctx) {
      await ctx.at(ctx.profile.outageAtS)
      await ctx.secondary.setOptions({ receipts: false })
      const at = Date.now()
      ctx.mark({ fault: 'secondary carrier silent', start: at, end: at })
    },
  },
  killScenario('webhooks'),
  {
    name: 'webhook-receiver-down',
    description: "the customers' webhook receiver refuses connections, then comes back: every event arrives",
    shape: { ...ONE_EACH, webhooks: 1 },
    webhooks: true,
    async inject(ctx) {
      const rx = ctx.receiver
      if (!rx) throw new Error('webhook-receiver-down needs the receiver')
      await ctx.at(ctx.profile.outageAtS)
      const start = Date.now()
      await rx.down()
      await sleep(ctx.profile.outageS * 1000)
      await rx.up()
      ctx.mark({ fault: `webhook receiver down ${ctx.profile.outageS} s`, start, end: Date.now() })
    },
  },
  {
    name: 'scale-out',
    description: '2 api + 2 workers + 1 dispatcher on one PostgreSQL and one NATS, no fault',
    shape: { api: 2, dispatcher: 1, worker: 2 },
    async inject() {},
  },
]
