import { decodePayload } from './codec.ts'
import type { DeliveryFields, Settler } from './delivery.ts'

/** A message as the memory bus stores it; refs counts the durables that still owe it an outcome. */
export interface StoredMessage {
  seq: number
  subject: string
  id: string
  json: string
  /** Headers given to publish; absent when there were none (no allocation per message). */
  headers?: ReadonlyMap<string, string>
  refs: number
}

export interface MessageStore {
  get(seq: number): StoredMessage | undefined
  /** A durable is done with seq (acked, termed, out of deliveries). */
  release(seq: number): void
}

/** A consumer attached to a durable: takes a delivery whenever it is not full. */
export interface DurableMember {
  readonly full: boolean
  deliver(fields: DeliveryFields<unknown>, settler: Settler): void
}

export interface DurableSettings {
  subject: string
  ackWaitMs: number
  maxDeliver: number
  maxAckPending: number
}

/** out: delivered, ack timer running; waiting: nak'ed with a delay; ready: due for redelivery. */
interface Unsettled {
  deliveries: number
  state: 'out' | 'waiting' | 'ready'
  timer: NodeJS.Timeout | undefined
}

/**
 * One durable's delivery state, the in-memory twin of a JetStream pull consumer: a backlog of
 * never-delivered sequences, the delivered-but-unsettled set with its timers, and round-robin
 * over the attached consumers. Redeliveries go before new messages, lowest sequence first.
 */
export class MemoryDurable {
  private backlog: number[] = []
  private head = 0
  private readonly ready: number[] = []
  private readonly unsettled = new Map<number, Unsettled>()
  private readonly members: DurableMember[] = []
  private turn = 0
  private pumping = false
  private closed = false

  constructor(
    readonly name: string,
    public settings: DurableSettings,
    private readonly store: MessageStore,
  ) {}

  /** Not yet delivered plus delivered and unsettled (JetStream: num_pending + num_ack_pending). */
  get pending(): number {
    return this.backlog.length - this.head + this.unsettled.size
  }

  enqueue(seq: number): void {
    this.backlog.push(seq)
    this.pump()
  }

  attach(member: DurableMember): void {
    this.members.push(member)
    this.pump()
  }

  detach(member: DurableMember): void {
    const i = this.members.indexOf(member)
    if (i >= 0) this.members.splice(i, 1)
  }

  close(): void {
    this.closed = true
    for (const u of this.unsettled.values()) clearTimeout(u.timer)
    this.unsettled.clear()
    this.members.length = 0
  }

  /** Hands out messages while some member has room; re-entrant calls join the running loop. */
  pump(): void {
    if (this.pumping || this.closed) return
    this.pumping = true
    try {
      for (;;) {
        const member = this.freeMember()
        if (!member) return
        const seq = this.nextSeq()
        if (seq === undefined) return
        this.deliver(member, seq)
      }
    } finally {
      this.pumping = false
    }
  }

  private freeMember(): DurableMember | undefined {
    const n = this.members.length
    for (let i = 0; i < n; i++) {
      const m = this.members[(this.turn + i) % n]
      if (m && !m.full) {
        this.turn = (this.turn + i + 1) % n
        return m
      }
    }
    return undefined
  }

  private nextSeq(): number | undefined {
    const again = this.ready.shift()
    if (again !== undefined) return again
    if (this.unsettled.size >= this.settings.maxAckPending) return undefined
    while (this.head < this.backlog.length) {
      const seq = this.backlog[this.head++] as number
      if (this.head > 1024 && this.head * 2 > this.backlog.length) {
        this.backlog = this.backlog.slice(this.head)
        this.head = 0
      }
      // Evicted by the store's size cap: gone for every durable, as with a limits stream.
      if (this.store.get(seq)) return seq
    }
    return undefined
  }

  private deliver(member: DurableMember, seq: number): void {
    const stored = this.store.get(seq)
    let u = this.unsettled.get(seq)
    if (!stored) {
      if (u) this.finish(seq)
      return
    }
    if (!u) {
      u = { deliveries: 0, state: 'out', timer: undefined }
      this.unsettled.set(seq, u)
    }
    const delivery = ++u.deliveries
    u.state = 'out'
    u.timer = setTimeout(() => this.expire(seq, delivery), this.settings.ackWaitMs)
    // nak and inProgress only count from the current delivery; a late ack or term from an
    // earlier one still settles the message, since its work was done.
    member.deliver(
      {
        id: stored.id,
        seq,
        subject: stored.subject,
        data: decodePayload(stored.json),
        deliveryCount: delivery,
        headers: stored.headers,
      },
      {
        ack: () => this.finish(seq),
        term: () => this.finish(seq),
        nak: (delayMs) => this.nak(seq, delivery, delayMs),
        inProgress: () => this.touch(seq, delivery),
      },
    )
  }

  private current(seq: number, delivery: number): Unsettled | undefined {
    const u = this.unsettled.get(seq)
    return u && u.deliveries === delivery && u.state === 'out' ? u : undefined
  }

  private expire(seq: number, delivery: number): void {
    const u = this.current(seq, delivery)
    if (!u) return
    u.timer = undefined
    this.retry(seq, u, 0)
  }

  private nak(seq: number, delivery: number, delayMs: number): void {
    const u = this.current(seq, delivery)
    if (!u) return
    clearTimeout(u.timer)
    this.retry(seq, u, delayMs)
  }

  private touch(seq: number, delivery: number): void {
    const u = this.current(seq, delivery)
    if (!u) return
    clearTimeout(u.timer)
    u.timer = setTimeout(() => this.expire(seq, delivery), this.settings.ackWaitMs)
  }

  private retry(seq: number, u: Unsettled, delayMs: number): void {
    if (u.deliveries >= this.settings.maxDeliver) {
      this.finish(seq)
      return
    }
    if (delayMs > 0) {
      u.state = 'waiting'
      u.timer = setTimeout(() => {
        u.timer = undefined
        this.makeReady(seq, u)
      }, delayMs)
    } else {
      this.makeReady(seq, u)
    }
  }

  private makeReady(seq: number, u: Unsettled): void {
    u.state = 'ready'
    let i = this.ready.length
    while (i > 0 && (this.ready[i - 1] as number) > seq) i--
    this.ready.splice(i, 0, seq)
    this.pump()
  }

  private finish(seq: number): void {
    const u = this.unsettled.get(seq)
    if (!u) return
    clearTimeout(u.timer)
    if (u.state === 'ready') this.ready.splice(this.ready.indexOf(seq), 1)
    this.unsettled.delete(seq)
    this.store.release(seq)
    this.pump()
  }
}
