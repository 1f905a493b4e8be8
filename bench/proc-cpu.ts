// CPU seconds used so far by another process (Linux /proc). On a two-core box the split of CPU
// between load generator and server explains most of a result, so the report shows it.
import { readFileSync } from 'node:fs'

// USER_HZ is 100 on every mainstream Linux build; /proc/<pid>/stat counts in those ticks.
const TICKS_PER_SECOND = 100

/** utime + stime of `pid` in seconds, or undefined when unavailable (not Linux, process gone). */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may contain spaces and parentheses: split after its closing paren.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
    const utime = Number(fields[11])
    const stime = Number(fields[12])
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined
    return (utime + stime) / TICKS_PER_SECOND
  } catch {
    return undefined
  }
}
