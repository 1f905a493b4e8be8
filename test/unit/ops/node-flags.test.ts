// The V8 flags smsgw runs with (src/cli/node-flags.ts) are the same wherever it is launched: the
// `smsgw` command's shebang, `npm start`, the Dockerfile's ENTRYPOINT; the bench and chaos
// launchers import them.

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import { NODE_FLAGS } from '../../../src/cli/node-flags.ts'

const ROOT = resolve(import.meta.dirname, '../../..')
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8')

describe('V8 flags of smsgw processes', () => {
  it('the shebang, npm start and the Dockerfile carry src/cli/node-flags.ts', () => {
    const shebang = read('bin/smsgw.js').split('\n')[0] ?? ''
    assert.equal(shebang, `#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`)
    const start: string = JSON.parse(read('package.json')).scripts.start
    assert.equal(start, `node ${NODE_FLAGS.join(' ')} bin/smsgw.js start`)
    const entry = read('Dockerfile').match(/^ENTRYPOINT (.*)$/m)?.[1]
    assert.deepEqual(JSON.parse(entry ?? 'null'), ['node', ...NODE_FLAGS, 'bin/smsgw.js'])
  })

  it('the command runs through its shebang (env -S passes the flags; node accepts them)', async () => {
    const { stdout } = await promisify(execFile)(join(ROOT, 'bin/smsgw.js'), ['--help'], {
      env: { ...process.env, NODE_OPTIONS: '' },
    })
    assert.match(stdout, /usage: smsgw <command>/)
  })
})
