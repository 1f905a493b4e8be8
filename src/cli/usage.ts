// The CLI's help texts and its usage error: kept apart from the commands so `smsgw --help` loads
// nothing else.

export class UsageError extends Error {
  readonly code = 'usage'
}

export const ADMIN_USAGE = `smsgw admin <command>
  customers create <name> [rate_limit_mps]   create a customer and print its first API key
  customers list                             customers with balances
  credit <customer_id> <amount> [reference]  credit a balance (ledger entry)
  keys issue <customer_id>                   issue another API key
  keys revoke <customer_id> <key_id>         revoke a key
  ledger <customer_id>                       print the ledger
  rates get                                  print the rate table
  rates set <file.json>                      replace the rate table ({"currency","default","countries"})`

export const USAGE = `usage: smsgw <command>
  start      run every role in one process (embedded PGlite unless DATABASE_URL is set)
  api        run the HTTP API only (needs NATS_URL and DATABASE_URL)
  dispatcher run the dispatcher only (outbox → bus)
  worker     run a delivery worker only (bus → carriers; SMSGW_CARRIERS or two simulated carriers)
  webhooks   run webhook delivery only (bus → customers' endpoints; needs NATS_URL and DATABASE_URL)
  carrier-sim  run the carrier simulator (SMPP + HTTP; see --help)
  migrate    apply database migrations and create partitions, then exit
  reconcile  check every invariant on the database (and simulators); exit 1 on a failure (see --help)
  admin      operator commands (see: smsgw admin help)
  rollups    rollups rebuild --from T --to T: recompute usage rollups from the message log
  clickhouse clickhouse backfill --from T --to T: copy messages to CLICKHOUSE_URL and reconcile its totals
  maintenance  run housekeeping once (partitions, retention, archive, redaction; --dry-run prints the plan)
  help       this text
(benchmarks are a development tool: npm run bench -- accept|e2e|sim in a source checkout)

${ADMIN_USAGE}`
