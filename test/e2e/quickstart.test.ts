import assert from 'node:assert/strict'
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { BIN } from '../helpers/bin.ts'

const run = promisify(execFile)

/** Starts `smsgw start` on the embedded default and resolves with its banner once it listens. */
function start(dataDir: string): Promise<{ child: ChildProcess; banner: string }> {
  const child = spawn(process.execPath, [BIN, 'start'], {
    env: {
      ...process.env,
      PORT: '0',
      SMSGW_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      DATABASE_URL: '',
      SMSGW_ADMIN_TOKEN: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner within 60 s:\n${out}\n${err}`)), 60_000)
    child.stdout?.on('data', (d) => {
      out += d
      if (out.includes('curl -s $SMSGW/v1/balance')) {
        clearTimeout(timer)
        resolve({ child, banner: out })
      }
    })
    child.stderr?.on('data', (d) => {
      err += d
    })
    child.on('exit', (code) => reject(new Error(`exited ${code}:\n${out}\n${err}`)))
  })
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await exited
}

describe('quickstart: npm start on the embedded default', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'smsgw-quickstart-'))
  after(() => rmSync(dataDir, { recursive: true, force: true }))

  it('prints a curl sequence that sends a first message; data and admin token survive a restart', async () => {
    const first = await start(dataDir)
    let balance: string
    try {
      const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()
      assert.ok(first.banner.includes(token), 'the banner shows the stored admin token')
      const script = first.banner.slice(first.banner.indexOf('  export SMSGW='))
      const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], { timeout: 60_000 })
      // The message as read back a second later (delivered by the simulated carrier), then the balance.
      assert.match(stdout, /"object":"message","status":"delivered","is_final":true/)
      assert.match(
        stdout,
        /"events":\[\{"status":"queued".*\{"status":"sending".*\{"status":"sent".*\{"status":"delivered"/,
      )
      assert.match(stdout, /"balance":\{"amount":"9\.9921","currency":"USD"\}\}$/)
      balance = '9.9921'
    } finally {
      await stop(first.child)
    }
    const second = await start(dataDir)
    try {
      const url = /smsgw is running at (\S+)/.exec(second.banner)?.[1]
      const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()
      assert.ok(second.banner.includes(token), 'the same admin token after a restart')
      const res = await fetch(`${url}/v1/admin/customers`, { headers: { authorization: `Bearer ${token}` } })
      const body = (await res.json()) as { data: { balance: { amount: string } }[] }
      assert.equal(body.data.length, 1)
      assert.equal(body.data[0]?.balance.amount, balance)
    } finally {
      await stop(second.child)
    }
  })
})
