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

const API_EXAMPLE = `{"carriers":[{"name":"a","type":"smpp","host":"127.0.0.1","port":2775,
"system_id":"x","password":"y","weight":100,"countries":["US"],"throughput":500,"window":100},
{"name":"b","type":"http","url":"http://carrier.example/sms","weight":50}]}`

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
    assert.deepEqual(b, { name: 'b', type: 'http', url: 'http://carrier.example/sms', weight: 50 })
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
      '{"carriers":[{"name":"a","type":"http","url":"http://x"},{"name":"a","type":"http","url":"http://y"}]}',
      /carriers\[1\]\.name: duplicate/,
    )
    rejects('{"carriers":[]}', /carriers: needs at least one/)
    rejects('{"providers":[]}', /carriers: expected an array/)
    rejects('{"carriers": [', /not valid JSON or YAML/)
  })
})

describe('readCarrierFile and the default', () => {
  it('reads a file and names SMSGW_CARRIERS when it cannot', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'smsgw-carriers-'))
    try {
      const path = join(dir, 'carriers.yaml')
      await writeFile(path, 'carriers:\n  - {name: b, type: http, url: "http://127.0.0.1:1/x"}\n')
      assert.equal((await readCarrierFile(path))[0]?.name, 'b')
      await assert.rejects(readCarrierFile(join(dir, 'missing.json')), /SMSGW_CARRIERS: cannot read/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('defaults to the simulator as two carriers', () => {
    const [smpp, http] = defaultSimCarriers({ smppPort: 2775, httpPort: 8775 })
    assert.equal(smpp?.type, 'smpp')
    assert.equal(smpp?.type === 'smpp' && smpp.port, 2775)
    assert.equal(http?.type === 'http' && http.url, 'http://127.0.0.1:8775/messages')
  })
})
