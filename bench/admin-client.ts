// The slice of the gateway's admin API the benchmark needs to set tenants up.

export interface RateTable {
  currency: string
  default: string
  countries: Readonly<Record<string, string>>
}

export const DEFAULT_RATES: RateTable = {
  currency: 'USD',
  default: '0.0100',
  countries: { US: '0.0079', GB: '0.0350' },
}

export interface Customer {
  id: string
  apiKey: string
}

const REQUEST_TIMEOUT_MS = 30_000

export class AdminClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async putRates(rates: RateTable = DEFAULT_RATES): Promise<void> {
    await this.call('PUT', '/v1/admin/rates', 200, rates)
  }

  async createCustomer(name: string): Promise<Customer> {
    // A rate limit far above what two cores can reach, so the limiter never answers for the server.
    const json = await this.call('POST', '/v1/admin/customers', 201, { name, rate_limit_mps: 1_000_000 })
    const record = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>
    const id = record['id']
    const apiKey = record['api_key']
    if ((typeof id !== 'string' && typeof id !== 'number') || typeof apiKey !== 'string') {
      throw new Error(
        `POST /v1/admin/customers: expected {id, api_key}, got ${JSON.stringify(json).slice(0, 300)}`,
      )
    }
    return { id: String(id), apiKey }
  }

  async addCredits(customerId: string, amount: string): Promise<void> {
    await this.call('POST', `/v1/admin/customers/${encodeURIComponent(customerId)}/credits`, 201, {
      amount,
      reference: 'bench',
    })
  }

  private async call(method: string, path: string, expected: number, body: unknown): Promise<unknown> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    })
    const text = await res.text()
    if (res.status !== expected) {
      throw new Error(`${method} ${path} → ${res.status} (expected ${expected}): ${text.slice(0, 500)}`)
    }
    if (text === '') return undefined
    try {
      return JSON.parse(text) as unknown
    } catch {
      throw new Error(`${method} ${path} → ${res.status} with a body that is not JSON: ${text.slice(0, 300)}`)
    }
  }
}
