/** Shared pieces of the bus contract suite: the factory type, subjects, and what a handler records. */
import type { TestContext } from 'node:test'
import type { Bus, BusMessage } from '../../../src/bus/bus.ts'

export interface BusUnderTest {
  bus: Bus
  /** What the bus reported through onError. */
  errors: Error[]
  /** Closes the bus and removes what it created on the broker. */
  cleanup(): Promise<void>
}

export type MakeBus = () => Promise<BusUnderTest>

/** Wraps a test body: a fresh bus per test, cleaned up whatever happens. */
export type WithBus = (
  fn: (t: BusUnderTest, ctx: TestContext) => Promise<void>,
) => (ctx: TestContext) => Promise<void>

export const OTP = 'sms.deliver.otp'
export const BULK = 'sms.deliver.bulk'
export const ACK_WAIT = 400
/** Node timers may fire up to ~1 ms early and clocks differ by rounding: lower bounds allow this. */
export const SLACK = 5

export interface Job {
  n: number
}

export interface Seen {
  id: string
  seq: number
  subject: string
  data: Job
  deliveryCount: number
  at: number
}

export const seen = (m: BusMessage<Job>): Seen => ({
  id: m.id,
  seq: m.seq,
  subject: m.subject,
  data: m.data,
  deliveryCount: m.deliveryCount,
  at: Date.now(),
})
