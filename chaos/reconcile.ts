// Runs `smsgw reconcile` (its contract: `--database-url <url> --sim <url>… [--settled] --json` prints
// `{ ok, checks: [{ name, ok, found, detail, samples }], totals }` and exits 0 only on pass).
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import type { ReconcileOutcome } from './verdict.ts'

const REPO = join(import.meta.dirname, '..')
const TIMEOUT_MS = 180_000

interface Report {
  ok: boolean
  checks: { name: string; ok: boolean; found?: unknown; detail?: unknown }[]
}

/** Interprets the command's exit and output (pure). */
export function interpretReconcile(code: number | null, stdout: string, stderr: string): ReconcileOutcome {
  if (/unknown command '?reconcile/.test(stderr)) {
    return { status: 'unavailable', detail: '`smsgw reconcile` is not in this build' }
  }
  let report: Report | undefined
  try {
    const parsed = JSON.parse(stdout) as Partial<Report>
    if (typeof parsed.ok === 'boolean' && Array.isArray(parsed.checks)) report = parsed as Report
  } catch {
    // Reported below with the output.
  }
  if (!report) {
    const out = (stderr || stdout).trim().slice(-500)
    return { status: 'error', detail: `exit ${code}, no JSON report: ${out || '(no output)'}` }
  }
  const checks = report.checks.map((c) => ({ name: c.name, ok: c.ok, found: c.found, detail: c.detail }))
  // Both must agree: a report that says ok with a failing exit code (or the reverse) is not a pass.
  return { status: report.ok && code === 0 && checks.every((c) => c.ok) ? 'pass' : 'fail', checks }
}

export function runReconcile(opts: {
  databaseUrl: string
  simUrls: string[]
  settled: boolean
}): Promise<ReconcileOutcome> {
  const args = [
    join(REPO, 'bin/smsgw.js'),
    'reconcile',
    '--database-url',
    opts.databaseUrl,
    ...opts.simUrls.flatMap((u) => ['--sim', u]),
    ...(opts.settled ? ['--settled'] : []),
    '--json',
  ]
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      {
        cwd: REPO,
        timeout: TIMEOUT_MS,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, LOG_LEVEL: 'warn' },
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0
        if (err?.killed) {
          resolve({ status: 'error', detail: `did not finish within ${TIMEOUT_MS / 1000} s` })
          return
        }
        resolve(interpretReconcile(code, stdout, stderr))
      },
    )
  })
}
