import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { SimCounters } from '../../src/carriers/sim/counters.ts'

const BIN = join(import.meta.dirname, '../../bin/smsgw.js')

export interface SimProcess {
  smppPort: number
  counters(): Promise<SimCounters>
  close(): Promise<void>
}

/**
 * `smsgw carrier-sim` in its own process, so a test that stalls its own event loop stalls only
 * our side: the carrier keeps answering and its answers wait in our socket buffer.
 */
export async function startSimProcess(flags: string[]): Promise<SimProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [BIN, 'carrier-sim', '--smpp-port', '0', '--http-port', '0', ...flags],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const lines = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> })
  let ports: { smpp_port: number; http_port: number } | undefined
  for await (const line of lines) {
    if (line.startsWith('{')) {
      ports = JSON.parse(line) as { smpp_port: number; http_port: number }
      break
    }
  }
  if (!ports) throw new Error('carrier-sim exited before printing its ports')
  const httpPort = ports.http_port
  return {
    smppPort: ports.smpp_port,
    async counters() {
      const res = await fetch(`http://127.0.0.1:${httpPort}/counters`)
      return (await res.json()) as SimCounters
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      await once(child, 'exit')
    },
  }
}
