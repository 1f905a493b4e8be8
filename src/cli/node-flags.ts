/**
 * The V8 flags every smsgw process runs with: `bin/smsgw.js`'s shebang, `npm start`, the Dockerfile's
 * ENTRYPOINT and the bench/chaos launchers carry these (test/unit/ops/node-flags.test.ts keeps them
 * equal). V8 reads heap sizes when the process starts, so they cannot be set from inside it.
 *
 * `--max-semi-space-size=64`: the young generation may grow to 2 × 64 MB (V8's default is 16 MB
 * semi-spaces). A delivered message allocates many short-lived objects (request, job, PDU, rows,
 * events) that mostly die between scavenges when the space is large: in `vs-kannel --only single`
 * profiles, garbage collection fell from 9.3 % of the process's time to 6.1 % (32 MB) and 4.7 %
 * (64 MB) — docs/performance.md. It costs up to ~100 MB more resident memory under load; an operator
 * overrides it with NODE_OPTIONS or `node --max-semi-space-size=N bin/smsgw.js`.
 */
export const NODE_FLAGS = ['--max-semi-space-size=64'] as const
