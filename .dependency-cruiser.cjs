// Import direction of src/ (`npm run lint` runs it; docs/architecture.md explains the layers).
// Inner modules never import outer ones; core logic speaks ports, only the wiring (cli/) and the
// adapters themselves import adapters; no cycles.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'Import cycles make start-up order and tests fragile: move the shared piece inward.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'src/domain imports nothing of ours outside domain (and no IO).',
      from: { path: '^src/domain/' },
      to: { path: '^src/(?!domain/)' },
    },
    {
      name: 'lib-is-generic',
      severity: 'error',
      comment: 'src/lib holds generic helpers (group commit, poll loop): they know no feature.',
      from: { path: '^src/lib/' },
      to: { path: '^src/(?!lib/)' },
    },
    {
      name: 'only-cli-imports-cli',
      severity: 'error',
      comment: 'cli/ is the outermost ring: the wiring point and the commands.',
      from: { path: '^src/(?!cli/)' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'only-cli-imports-api',
      severity: 'error',
      comment: 'The HTTP layer is an adapter for customers and operators; nothing inside depends on it.',
      from: { path: '^src/(?!cli/|api/|dashboard/)' },
      to: { path: '^src/api/' },
    },
    {
      name: 'core-speaks-ports',
      severity: 'error',
      comment:
        'Core modules receive adapters (PostgreSQL/PGlite, NATS/in-process bus, SMPP/HTTP carriers) from the wiring point; they import only the ports.',
      from: { path: '^src/(billing|dispatch|delivery|events|accounts|messages|limits|reconcile|maintenance|domain|lib)/' },
      to: {
        path: '^src/(db/(postgres|pglite)|bus/(nats-|memory-)|carriers/(smpp|http|sim)/|carriers/create-carrier)',
      },
    },
    {
      name: 'ports-know-no-adapter',
      severity: 'error',
      comment: 'A port never imports one of its adapters.',
      from: { path: '^src/(db/db|bus/bus|carriers/carrier)\\.ts$' },
      to: { path: '^src/(db/(postgres|pglite)|bus/(nats-|memory-)|carriers/(smpp|http|sim)/)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
}
