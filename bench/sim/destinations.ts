// Where the simulated traffic goes: valid mobile numbers in six countries (each checked against
// src/domain/phone.ts by the unit tests) and the per-segment rates the run puts in the rate table.
import { digits, pick, type Random } from './random.ts'

export const COUNTRIES = ['US', 'GB', 'DE', 'FR', 'IN', 'BR'] as const
export type Country = (typeof COUNTRIES)[number]

/** Share of all messages per destination country (a customer's home country takes most of its own). */
export const COUNTRY_MIX: Record<Country, number> = { US: 0.4, GB: 0.15, DE: 0.1, FR: 0.1, IN: 0.15, BR: 0.1 }

/** USD per segment, put with PUT /v1/admin/rates before the run. */
export const SIM_RATES = {
  currency: 'USD',
  default: '0.0100',
  countries: { US: '0.0079', GB: '0.0350', DE: '0.0750', FR: '0.0650', IN: '0.0030', BR: '0.0200' },
} as const

const usAreas = ['212', '312', '415', '646', '713', '305']
const frPrefixes = ['61', '62', '65', '75', '76', '77', '78']
const number: Record<Country, (r: Random) => string> = {
  US: (r) => `+1${pick(usAreas, r)}${2 + Math.floor(r() * 8)}${digits(6, r)}`,
  GB: (r) => `+447${pick(['400', '800', '900'], r)}${digits(6, r)}`,
  DE: (r) => (r() < 0.5 ? `+49151${digits(8, r)}` : `+49170${digits(7, r)}`),
  FR: (r) => `+33${pick(frPrefixes, r)}${digits(7, r)}`,
  IN: (r) => `+919${digits(9, r)}`,
  BR: (r) => `+55${pick(['11', '21', '31'], r)}9${digits(8, r)}`,
}

/** A mobile number of `country` in E.164. */
export const mobileNumber = (country: Country, random: Random): string => number[country](random)
