import assert from 'node:assert/strict'
import { test } from 'node:test'
import { makePayload, makePayloadPool } from './payloads.ts'

const gsmOnly = /^[A-Za-z0-9 @£$¥èéùìòÇØøÅå_^{}\\[~\]|€ÆæßÉ!"#¤%&'()*+,\-./:;<=>?¡ÄÖÑÜ§¿äöñüà\n\r]*$/

test('recipients are US 415-555 or GB 7911 mobiles in E.164', () => {
  for (let i = 0; i < 2000; i++) {
    assert.match(makePayload(Math.random).to, /^(\+1415555\d{4}|\+447400\d{6})$/)
  }
})

test('the mix is mostly single-segment GSM with some UCS-2, multipart and OTP', () => {
  const pool = makePayloadPool(5000).map(
    (b) => JSON.parse(b.toString()) as { body: string; priority?: string },
  )
  const share = (pred: (p: { body: string; priority?: string }) => boolean) => pool.filter(pred).length / 5000
  const gsmSingle = share((p) => gsmOnly.test(p.body) && p.body.length <= 160)
  const ucs2 = share((p) => !gsmOnly.test(p.body))
  const long = share((p) => (gsmOnly.test(p.body) ? p.body.length > 160 : p.body.length > 70))
  const otp = share((p) => p.priority === 'otp')
  assert.ok(gsmSingle > 0.7 && gsmSingle < 0.9, `gsm single ${gsmSingle}`)
  assert.ok(ucs2 > 0.05 && ucs2 < 0.15, `ucs2 ${ucs2}`)
  assert.ok(long > 0.08 && long < 0.16, `multipart ${long}`)
  assert.ok(otp > 0.05 && otp < 0.15, `otp ${otp}`)
})
