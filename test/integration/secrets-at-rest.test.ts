// Secrets are never stored in clear: an idempotent replay of a 201 that showed an API key stores
// and replays it without the key, and the data dir (admin token, embedded database) is 0700.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { openDb, resolveAdminToken } from '../../src/cli/runtime.ts'
import { loadConfig } from '../../src/config/config.ts'
import { adminHeaders, createCustomer, startApp, type TestApp } from '../helpers/app.ts'
import { type FreshDatabase, freshDatabase } from '../helpers/pg.ts'

describe('idempotent replays of a shown API key do not store it', () => {
  let db: FreshDatabase
  let t: TestApp
  before(async () => {
    db = await freshDatabase()
    t = await startApp(db.url)
  })
  after(async () => {
    await t?.close()
    await db?.drop()
  })

  const stored = async () =>
    (await t.db.query<{ response: string }>('SELECT response FROM idempotency_keys')).rows.map(
      (r) => r.response,
    )

  for (const [what, url] of [
    ['POST /v1/admin/customers', () => '/v1/admin/customers'],
    ['POST /v1/admin/customers/{id}/api_keys', (id: string) => `/v1/admin/customers/${id}/api_keys`],
  ] as const) {
    it(`${what}: the first answer shows api_key; the replay says api_key_shown_once; the table holds no secret`, async () => {
      const c = await createCustomer(t.app)
      const req = {
        method: 'POST' as const,
        url: url(c.id),
        headers: { ...adminHeaders, 'idempotency-key': `secret-${what.replaceAll(' ', '_')}` },
        payload: what.endsWith('api_keys') ? { allowed_ips: null } : { name: 'once' },
      }
      const first = await t.app.inject(req)
      assert.equal(first.statusCode, 201, first.body)
      const secret = first.json().api_key as string
      assert.match(secret, /^sk_/)
      assert.equal(first.json().api_key_shown_once, undefined)
      const replay = await t.app.inject(req)
      assert.equal(replay.statusCode, 201, replay.body)
      assert.equal(replay.headers['idempotent-replayed'], 'true')
      const { api_key_shown_once, ...rest } = replay.json()
      assert.equal(api_key_shown_once, true)
      assert.equal(rest.api_key, undefined)
      const { api_key: _shown, ...firstRest } = first.json()
      assert.deepEqual(rest, firstRest, 'the replay is the first answer without the secret')
      for (const r of await stored()) {
        assert.ok(!r.includes(secret), 'the secret is not in idempotency_keys')
        assert.ok(!r.includes(secret.slice(10)), 'nor any tail of it')
      }
      // The key itself works: only its hash is stored.
      const bal = await t.app.inject({
        method: 'GET',
        url: '/v1/balance',
        headers: { authorization: `Bearer ${secret}` },
      })
      assert.equal(bal.statusCode, 200)
    })
  }
})

describe('the data dir is private', () => {
  const root = mkdtempSync(join(tmpdir(), 'smsgw-datadir-'))
  const mode = (p: string) => statSync(p).mode & 0o777
  let umask: number
  before(() => {
    umask = process.umask(0o022)
  })
  after(() => {
    process.umask(umask)
    rmSync(root, { recursive: true, force: true })
  })

  it('a generated admin token lives in a new 0700 dir, in a 0600 file', () => {
    const dir = join(root, 'a', 'data')
    const r = resolveAdminToken(loadConfig({ SMSGW_DATA_DIR: dir }))
    assert.equal(r.source, 'generated')
    assert.equal(mode(dir).toString(8), '700')
    assert.equal(mode(join(dir, 'admin-token')).toString(8), '600')
    assert.equal(resolveAdminToken(loadConfig({ SMSGW_DATA_DIR: dir })).token, r.token)
  })

  it('the embedded database creates its data dir 0700', async () => {
    const dir = join(root, 'b', 'data')
    const db = await openDb(loadConfig({ SMSGW_DATA_DIR: dir }))
    try {
      assert.equal(mode(dir).toString(8), '700')
      assert.equal(mode(join(dir, 'pglite')).toString(8), '700')
    } finally {
      await db.close()
    }
  })

  it('an existing smsgw data dir with a looser mode is tightened; an unrelated dir is left alone', () => {
    const ours = join(root, 'c')
    mkdirSync(ours, { mode: 0o755 })
    writeFileSync(join(ours, 'admin-token'), 'adm_0123456789abcdef0123\n', { mode: 0o600 })
    resolveAdminToken(loadConfig({ SMSGW_DATA_DIR: ours }))
    assert.equal(mode(ours).toString(8), '700')
    const shared = join(root, 'd')
    mkdirSync(shared, { mode: 0o755 })
    resolveAdminToken(loadConfig({ SMSGW_DATA_DIR: shared, SMSGW_ADMIN_TOKEN: 'adm_from_env_0123456789' }))
    assert.equal(mode(shared).toString(8), '755')
  })
})
