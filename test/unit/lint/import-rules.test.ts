// The import-direction check of `npm run lint` (.dependency-cruiser.cjs) fails on a planted cycle
// and on an inward module importing an outer one; the real tree passes.

import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, describe, it } from 'node:test'

const ROOT = join(import.meta.dirname, '../../..')
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs')

function cruise(cwd: string) {
  const r = spawnSync(process.execPath, [DEPCRUISE, 'src', '--config', '.dependency-cruiser.cjs'], {
    cwd,
    encoding: 'utf8',
  })
  return { code: r.status, out: `${r.stdout}${r.stderr}` }
}

describe('import rules', () => {
  const dirs: string[] = []
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  /** A tree with the project's rules and tsconfig, and the given files. */
  function tree(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'smsgw-deps-'))
    dirs.push(dir)
    cpSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'))
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'NodeNext', allowImportingTsExtensions: true, noEmit: true },
      }),
    )
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true })
      writeFileSync(join(dir, path), text)
    }
    return dir
  }

  it('the source tree passes', () => {
    const r = cruise(ROOT)
    assert.equal(r.code, 0, r.out)
  })

  it('a planted cycle fails', () => {
    const r = cruise(
      tree({
        'src/billing/a.ts': "import { b } from './b.ts'\nexport const a = () => b\n",
        'src/billing/b.ts': "import { a } from './a.ts'\nexport const b = () => a\n",
      }),
    )
    assert.notEqual(r.code, 0)
    assert.match(r.out, /no-cycles/)
  })

  it('domain importing an outer module fails, and core importing an adapter fails', () => {
    const r = cruise(
      tree({
        'src/domain/money.ts': "import { x } from '../api/app.ts'\nexport const m = x\n",
        'src/api/app.ts': 'export const x = 1\n',
        'src/delivery/worker.ts': "import { nats } from '../bus/nats-bus.ts'\nexport const w = nats\n",
        'src/bus/nats-bus.ts': 'export const nats = 1\n',
      }),
    )
    assert.notEqual(r.code, 0)
    assert.match(r.out, /domain-is-pure/)
    assert.match(r.out, /core-speaks-ports/)
  })
})
