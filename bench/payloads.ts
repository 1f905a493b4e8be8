// Pre-built `POST /v1/messages` bodies. Building them once keeps the load generator cheap per
// request (it shares two cores with the server and PostgreSQL), while the pool is big enough that
// the server never sees a handful of repeated payloads.

export type Kind = 'gsm' | 'ucs2' | 'gsm-multipart' | 'ucs2-multipart'

export interface MessagePayload {
  to: string
  from: string
  body: string
  priority?: 'otp'
}

const digits = (n: number, random: () => number): string => {
  let out = ''
  for (let i = 0; i < n; i++) out += Math.floor(random() * 10)
  return out
}

/** Mostly US (+1 415 555 xxxx), some GB mobiles (+44 7911 xxxxxx): two rate-table rows. */
export function recipient(random: () => number): string {
  return random() < 0.85 ? `+1415555${digits(4, random)}` : `+447400${digits(6, random)}`
}

const gshort = [
  (r: () => number) => `Your code is ${digits(6, r)}`,
  (r: () => number) => `ACME: your verification code is ${digits(6, r)}. It expires in 10 minutes.`,
  (r: () => number) => `Your order #${digits(5, r)} has shipped and will arrive tomorrow.`,
  (r: () => number) => `Reminder: your appointment is on ${1 + Math.floor(r() * 28)}/11 at 10:30.`,
]
const ucs2Short = [
  (r: () => number) => `Ваш код: ${digits(6, r)}`,
  (r: () => number) => `Your code is ${digits(6, r)} 🔐`,
  (r: () => number) => `Ihr Code lautet ${digits(6, r)} – gültig für 10 Min. ✓`,
]
const filler =
  'Thanks for shopping with ACME. Track your parcel, change the delivery slot or ask for a refund in the ' +
  'app. Reply STOP to opt out of marketing messages; service messages will still be sent. '

// 2-3 GSM segments (> 160 chars) and 2 UCS-2 segments (> 70 chars): the multipart paths.
const gsmLong = (r: () => number) => `Order ${digits(6, r)}: ${filler}${r() < 0.5 ? filler : ''}`
const ucs2Long = (r: () => number) =>
  `Заказ ${digits(6, r)} отправлен. Отследить посылку можно в приложении ACME. Ответьте STOP для отписки.`

const pick = <T>(items: readonly T[], random: () => number): T => items[Math.floor(random() * items.length)]!

/** 80 % one-segment GSM, 8 % one-segment UCS-2, 10 % GSM multipart, 2 % UCS-2 multipart. */
export function kindFor(u: number): Kind {
  if (u < 0.8) return 'gsm'
  if (u < 0.88) return 'ucs2'
  if (u < 0.98) return 'gsm-multipart'
  return 'ucs2-multipart'
}

export function makePayload(random: () => number): MessagePayload {
  const kind = kindFor(random())
  const to = recipient(random)
  if (kind === 'gsm-multipart') return { to, from: 'ACME', body: gsmLong(random) }
  if (kind === 'ucs2-multipart') return { to, from: 'ACME', body: ucs2Long(random) }
  const body = pick(kind === 'gsm' ? gshort : ucs2Short, random)(random)
  // ~10 % are OTPs; normal priority is the server default, so it is left out like most clients do.
  return random() < 0.1 ? { to, from: 'ACME', body, priority: 'otp' } : { to, from: 'ACME', body }
}

export function makePayloadPool(size: number, random: () => number = Math.random): Buffer[] {
  return Array.from({ length: size }, () => Buffer.from(JSON.stringify(makePayload(random))))
}
