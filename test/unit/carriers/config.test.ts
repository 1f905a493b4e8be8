// The carrier file: JSON and YAML, defaults, errors that name the field, the simulated default.

import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import {
  CarrierConfigError,
  defaultSimCarriers,
  parseCarrierFile,
  readCarrierFile,
} from '../../../src/carriers/config.ts'
import { createWebhookAuth, newWebhookSecret } from '../../../src/carriers/webhook-auth.ts'

const SECRET = newWebhookSecret()

const API_EXAMPLE = `{"carriers":[{"name":"a","type":"smpp","host":"127.0.0.1","port":2775,
"system_id":"x","password":"y","weight":100,"countries":["US"],"throughput":500,"window":100},
{"name":"b","type":"http","url":"http://carrier.example/sms","weight":50,"allowed_ips":["10.1.0.0/16"]}]}`

function rejects(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseCarrierFile(text),
    (e: unknown) => e instanceof CarrierConfigError && pattern.test(e.message),
    `expected ${pattern}`,
  )
}

describe('parseCarrierFile', () => {
  it('reads the API.md example', () => {
    const [a, b] = parseCarrierFile(API_EXAMPLE)
    assert.deepEqual(a, {
      name: 'a',
      type: 'smpp',
      host: '127.0.0.1',
      port: 2775,
      system_id: 'x',
      password: 'y',
      weight: 100,
      countries: ['US'],
      throughput: 500,
      window: 100,
    })
    assert.deepEqual(b, {
      name: 'b',
      type: 'http',
      url: 'http://carrier.example/sms',
      weight: 50,
      allowed_ips: ['10.1.0.0/16'],
    })
  })

  it('reads YAML and fills the default weight', () => {
    const cfgs = parseCarrierFile(`
carriers:
  - name: eu
    type: smpp
    host: smsc.example
    port: 2775
    system_id: acme
    password: s3cret
    prefixes: ["+44", "33"]
    message_id_tlv: false
  - name: us-http
    type: http
    url: https://api.example/v1/sms
    api_key: k
    webhook_secret: ${SECRET}
`)
    assert.equal(cfgs.length, 2)
    assert.equal(cfgs[0]?.weight, 100)
    assert.equal(cfgs[0]?.type === 'smpp' && cfgs[0].message_id_tlv, false)
    assert.deepEqual(cfgs[0]?.prefixes, ['+44', '33'])
    assert.equal(cfgs[1]?.type === 'http' && cfgs[1].api_key, 'k')
  })

  it('names the field in errors', () => {
    rejects(
      '{"carriers":[{"name":"a","type":"smpp","host":"h","port":"2775","system_id":"x","password":"y"}]}',
      /carriers\[0\]\.port/,
    )
    rejects(
      '{"carriers":[{"name":"a","type":"smpp","port":1,"system_id":"x","password":"y"}]}',
      /carriers\[0\]\.host/,
    )
    rejects('{"carriers":[{"name":"a","type":"http","url":"ftp://x"}]}', /carriers\[0\]\.url/)
    rejects(
      '{"carriers":[{"name":"a","type":"http","url":"http://x","countries":["usa"]}]}',
      /carriers\[0\]\.countries\[0\]/,
    )
    rejects('{"carriers":[{"name":"a","type":"http","url":"http://x","weight":-1}]}', /carriers\[0\]\.weight/)
    rejects(
      '{"carriers":[{"name":"a","type":"http","url":"http://x","colour":"red"}]}',
      /carriers\[0\]\.colour/,
    )
    rejects(
      '{"carriers":[{"name":"a","type":"smpp","host":"h","port":1,"system_id":"x","password":"longer-than-8"}]}',
      /carriers\[0\]\.password/,
    )
    rejects('{"carriers":[{"name":"a","type":"fax"}]}', /carriers\[0\]\.type: must be "smpp" or "http"/)
    rejects(
      '{"carriers":[{"name":"a","type":"http","url":"http://x","insecure_webhooks":true},{"name":"a","type":"http","url":"http://y"}]}',
      /carriers\[1\]\.name: duplicate/,
    )
    rejects('{"carriers":[]}', /carriers: needs at least one/)
    rejects(
      '{"carriers":[{"name":"a","type":"http","url":"http://x","allowed_ips":["10.0.0.0/33"]}]}',
      /carriers\[0\] \(a\): allowed_ips/,
    )
    rejects(
      '{"carriers":[{"name":"a","type":"http","url":"http://x","webhook_secret":"whsec_short"}]}',
      /carriers\[0\] \(a\): webhook_secret/,
    )
    rejects('{"providers":[]}', /carriers: expected an array/)
    rejects('{"carriers": [', /not valid JSON or YAML/)
  })
})

describe('webhook authentication of HTTP carriers', () => {
  it('refuses an HTTP carrier with neither webhook_secret nor allowed_ips, naming it', () => {
    rejects(
      '{"carriers":[{"name":"acme-http","type":"http","url":"http://carrier.example/sms"}]}',
      /carriers\[0\] \(acme-http\): HTTP carrier "acme-http" needs webhook_secret or allowed_ips/,
    )
    // Code that builds carrier configs without the file is refused the same way.
    assert.throws(
      () => createWebhookAuth([{ name: 'acme-http', type: 'http' }]),
      /acme-http.*needs webhook_secret or allowed_ips/,
    )
  })

  it('accepts a secret, allowed IPs, or an explicit insecure_webhooks', () => {
    const cfgs = parseCarrierFile(
      JSON.stringify({
        carriers: [
          { name: 's', type: 'http', url: 'http://x', webhook_secret: SECRET },
          { name: 'i', type: 'http', url: 'http://x', allowed_ips: ['203.0.113.7', '2001:db8::/32'] },
          { name: 'n', type: 'http', url: 'http://x', insecure_webhooks: true },
          { name: 'smpp', type: 'smpp', host: 'h', port: 1, system_id: 'x', password: 'y' },
        ],
      }),
    )
    assert.equal(cfgs.length, 4)
  })
})

describe('readCarrierFile and the default', () => {
  it('reads a file and names SMSGW_CARRIERS when it cannot', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'smsgw-carriers-'))
    try {
      const path = join(dir, 'carriers.yaml')
      await writeFile(
        path,
        'carriers:\n  - {name: b, type: http, url: "http://127.0.0.1:1/x", allowed_ips: [127.0.0.1]}\n',
      )
      assert.equal((await readCarrierFile(path))[0]?.name, 'b')
      await assert.rejects(readCarrierFile(join(dir, 'missing.json')), /SMSGW_CARRIERS: cannot read/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('defaults to the simulator as two carriers', () => {
    const [smpp, http] = defaultSimCarriers({ smppPort: 2775, httpPort: 8775, webhookSecret: SECRET })
    assert.equal(smpp?.type, 'smpp')
    assert.equal(smpp?.type === 'smpp' && smpp.port, 2775)
    assert.equal(http?.type === 'http' && http.url, 'http://127.0.0.1:8775/messages')
    // The simulated HTTP carrier is authenticated like a real one: it shares the simulator's secret.
    assert.equal(http?.type === 'http' && http.webhook_secret, SECRET)
  })
})
