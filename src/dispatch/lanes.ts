import { PRIORITIES, type Priority } from '../billing/types.ts'

/** Lanes in release order: otp and high are always offered credits before normal and bulk. */
export const LANES: readonly Priority[] = PRIORITIES

export const laneSubject = (lane: Priority) => `sms.deliver.${lane}`
export const laneDurable = (lane: Priority) => `deliver-${lane}`

/** The work a delivery worker needs, carried on the bus so it does not re-read the message. */
export interface DeliveryJob {
  id: string
  created_at: string
  customer_id: string
  to: string
  from: string
  body: string
  encoding: 'GSM-7' | 'UCS-2'
  segments: number
  price_micros: number
  priority: Priority
  country: string
  expires_at: string
}
