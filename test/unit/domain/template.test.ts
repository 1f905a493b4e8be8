import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { renderTemplate, templateParams } from '../../../src/domain/template.ts'

describe('batch templating', () => {
  it('substitutes every ${name}, keeps anything else literal, never re-scans a value', () => {
    assert.deepEqual(renderTemplate('Hi ${name}, code ${code}. ${name}!', { name: 'Ann', code: '42' }), {
      ok: true,
      body: 'Hi Ann, code 42. Ann!',
    })
    assert.deepEqual(renderTemplate('$name ${ name } ${1x} $${name}', { name: 'A' }), {
      ok: true,
      body: '$name ${ name } ${1x} $A',
    })
    assert.deepEqual(renderTemplate('${a}', { a: '${b}', b: 'no' }), { ok: true, body: '${b}' })
    assert.deepEqual(renderTemplate('${toString}', {}), { ok: false, missing: 'toString' })
  })

  it('names the first missing parameter', () => {
    assert.deepEqual(renderTemplate('${a} ${b} ${c}', { a: '1' }), { ok: false, missing: 'b' })
    assert.deepEqual(renderTemplate('${a}', undefined), { ok: false, missing: 'a' })
    assert.deepEqual(templateParams('${a} ${b} ${a}'), ['a', 'b'])
  })

  it('property: with every parameter given, the result is the body with each placeholder replaced', () => {
    const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/)
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.string({ maxLength: 5 }).filter((s) => !s.includes('$')),
            name,
          ),
          { maxLength: 6 },
        ),
        fc.dictionary(name, fc.string({ maxLength: 8 })),
        (parts, given) => {
          const body = parts.map(([text, n]) => `${text}\${${n}}`).join('')
          const params = { ...given }
          for (const [, n] of parts) params[n] ??= `<${n}>`
          const out = renderTemplate(body, params)
          assert.equal(out.ok, true)
          assert.equal(out.ok && out.body, parts.map(([text, n]) => text + params[n]).join(''))
        },
      ),
    )
  })
})
