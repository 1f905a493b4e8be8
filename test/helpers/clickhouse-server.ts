// A ClickHouse server of the test's own: free ports, a temporary config and data directory,
// started from the installed binary and stopped after. Absent binary: a visible skip, or a
// failure under CI=true (CI installs clickhouse-server, .ci/run).

import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from './wait.ts'

export const CLICKHOUSE_BIN = process.env.CLICKHOUSE_SERVER_BIN ?? '/usr/sbin/clickhouse-server'

/** Why the ClickHouse tests cannot run here (undefined: they can). Throws under CI=true. */
export function clickhouseSkipReason(): string | undefined {
  if (existsSync(CLICKHOUSE_BIN)) return undefined
  const reason = `${CLICKHOUSE_BIN} is not installed (apt-get install clickhouse-server)`
  if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`)
  return reason
}

async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

export interface ClickHouseServer {
  /** http://127.0.0.1:<port>/ (no database). */
  url: string
  stop(): Promise<void>
}

export async function startClickHouse(): Promise<ClickHouseServer> {
  const dir = await mkdtemp(join(tmpdir(), 'smsgw-ch-'))
  const [http, tcp] = [await freePort(), await freePort()]
  await writeFile(
    join(dir, 'config.xml'),
    `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <http_port>${http}</http_port>
  <tcp_port>${tcp}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
</yandex>
`,
  )
  await writeFile(
    join(dir, 'users.xml'),
    `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>1000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
`,
  )
  const child: ChildProcess = spawn(CLICKHOUSE_BIN, [`--config-file=${join(dir, 'config.xml')}`], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (d) => {
    stderr = (stderr + d).slice(-4000)
  })
  const url = `http://127.0.0.1:${http}/`
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
    }
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`clickhouse-server exited ${child.exitCode}: ${stderr}`)
        return fetch(`${url}ping`).then(
          (r) => r.ok,
          () => false,
        )
      },
      'clickhouse-server /ping',
      60_000,
      100,
    )
  } catch (err) {
    await stop()
    throw err
  }
  return { url, stop }
}
