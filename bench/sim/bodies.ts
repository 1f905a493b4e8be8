// What the simulated customers write: short GSM-7, GSM-7 with extension characters (2 septets
// each), short UCS-2 and multipart GSM-7/UCS-2 of 2–4 segments, mixed by priority (OTPs are
// short, bulk campaigns are long). Texts are pre-built pools; a request picks one.
import { PRIORITIES, type Priority } from '../../src/domain/message.ts'
import { digits, pick, pickWeighted, type Random } from './random.ts'

export const BODY_KINDS = ['gsm', 'gsm-ext', 'ucs2', 'gsm-long', 'ucs2-long'] as const
export type BodyKind = (typeof BODY_KINDS)[number]

export { PRIORITIES, type Priority }

/** Share of each body kind per priority, in BODY_KINDS order. */
export const BODY_MIX: Record<Priority, readonly number[]> = {
  otp: [0.8, 0.05, 0.15, 0, 0],
  high: [0.6, 0.15, 0.15, 0.08, 0.02],
  normal: [0.45, 0.15, 0.15, 0.2, 0.05],
  bulk: [0.25, 0.1, 0.1, 0.45, 0.1],
}

export const drawBodyKind = (priority: Priority, random: Random): number =>
  pickWeighted(BODY_MIX[priority], random)

const otp = [
  (r: Random) => `Your code is ${digits(6, r)}`,
  (r: Random) => `ACME: your verification code is ${digits(6, r)}. It expires in 10 minutes.`,
  (r: Random) => `${digits(6, r)} is your login code. Don't share it with anyone.`,
]
const gsm = [
  ...otp,
  (r: Random) => `Your order #${digits(5, r)} has shipped and will arrive tomorrow.`,
  (r: Random) => `Reminder: your appointment is on ${1 + Math.floor(r() * 28)}/11 at 10:30.`,
  (r: Random) => `Your table for ${2 + Math.floor(r() * 4)} is confirmed for 19:30. Reply C to cancel.`,
]
// € [ ] { } ~ | ^ \ are GSM-7 extension characters: still GSM-7, but each takes two septets.
const gsmExt = [
  (r: Random) => `Payment of €${digits(2, r)}.${digits(2, r)} received [ref ${digits(6, r)}]. Thank you!`,
  (r: Random) => `Your code: {${digits(6, r)}} ~ valid 10 min | do not share`,
  (r: Random) => `Invoice ${digits(5, r)}: €${digits(3, r)} due ^ pay at acme.example/pay [ok]`,
]
const ucs2 = [
  (r: Random) => `Ваш код: ${digits(6, r)}`,
  (r: Random) => `Your code is ${digits(6, r)} 🔐`,
  (r: Random) => `Ihr Code lautet ${digits(6, r)} – gültig für 10 Min. ✓`,
  (r: Random) => `您的验证码是 ${digits(6, r)}，10分钟内有效。`,
  (r: Random) => `आपका कोड ${digits(6, r)} है`,
]
const gsmFiller =
  'Thanks for shopping with ACME. Track your parcel, change the delivery slot or ask for a refund in the ' +
  'app. Reply STOP to opt out of marketing messages; service messages will still be sent. '
const ucs2Filler =
  'Спасибо за покупку в ACME. Отследить посылку, изменить время доставки или оформить возврат можно в ' +
  'приложении. Ответьте STOP, чтобы отписаться от рассылки. '

/**
 * A text of exactly `segments` parts (2–4): more than fits in `segments - 1` parts (or in one
 * single-part message of `single` units), at most `segments` parts of `perPart` units.
 */
function long(
  prefix: string,
  filler: string,
  single: number,
  perPart: number,
  segments: number,
  random: Random,
): string {
  const min = segments === 2 ? single + 1 : perPart * (segments - 1) + 1
  const length = min + Math.floor(random() * (perPart * segments - min + 1))
  let text = prefix
  while (text.length < length) text += filler
  return text.slice(0, length)
}

export function makeBody(kind: BodyKind, priority: Priority, random: Random): string {
  const segments = 2 + Math.floor(random() * 3)
  switch (kind) {
    case 'gsm':
      return pick(priority === 'otp' ? otp : gsm, random)(random)
    case 'gsm-ext':
      return pick(gsmExt, random)(random)
    case 'ucs2':
      return pick(ucs2, random)(random)
    case 'gsm-long':
      return long(`Order ${digits(6, random)}: `, gsmFiller, 160, 153, segments, random)
    case 'ucs2-long':
      return long(`Заказ ${digits(6, random)}: `, ucs2Filler, 70, 67, segments, random)
  }
}

/** Pre-built bodies per priority and kind: pool[priority][kind][i]. */
export type BodyPool = Record<Priority, string[][]>

export function makeBodyPool(size: number, random: Random): BodyPool {
  const pool = {} as BodyPool
  for (const p of PRIORITIES) {
    pool[p] = BODY_KINDS.map((kind) =>
      BODY_MIX[p][BODY_KINDS.indexOf(kind)] === 0
        ? []
        : Array.from({ length: size }, () => makeBody(kind, p, random)),
    )
  }
  return pool
}
