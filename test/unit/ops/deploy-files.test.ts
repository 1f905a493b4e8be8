// The deployment files, checked as far as this machine allows (no Docker engine, no compose
// client, no cluster): they parse; every smsgw command they run exists; every environment they
// give a role passes the config schema; the carrier file and the simulator's flags parse; mounts,
// dependencies, scrape targets and selectors point at things that exist; every Kubernetes
// Deployment has probes, resource requests, a non-root security context, a Service and a PDB.

import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { parse, parseAllDocuments } from 'yaml'
import { parseCarrierFile } from '../../../src/carriers/config.ts'
import { parseCarrierSimArgs } from '../../../src/cli/carrier-sim.ts'
import { USAGE } from '../../../src/cli/usage.ts'
import { loadConfig } from '../../../src/config/config.ts'
import { DEPLOY } from '../../helpers/ops-files.ts'

const ROOT = resolve(DEPLOY, '..')
const COMMANDS = new Set([...USAGE.matchAll(/^ {2}([a-z][a-z-]*)\s/gm)].map((m) => m[1]))
const SERVING = ['api', 'dispatcher', 'worker', 'webhooks']
const read = (p: string) => readFileSync(join(DEPLOY, p), 'utf8')

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, walked by shape
type Doc = any

/** Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}` with the values an operator would export. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(
    /\$\{([A-Z_]+)(?::([-?])([^}]*))?\}/g,
    (_, name: string, op?: string, arg?: string) => {
      const v = env[name]
      if (v) return v
      if (op === '-') return arg ?? ''
      throw new Error(`${name} is required: ${arg}`)
    },
  )
}

const OPERATOR_ENV = {
  SMSGW_ADMIN_TOKEN: 'adm_0123456789abcdef0123',
  SMSGW_WEBHOOK_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'),
}

describe('deploy/compose.yaml', () => {
  const compose: Doc = parse(read('compose.yaml'), { merge: true })
  const services: Record<string, Doc> = compose.services
  const smsgw = Object.entries(services).filter(([, s]) => s.image === 'smsgw:local')
  const envOf = (s: Doc) =>
    Object.fromEntries(
      Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), OPERATOR_ENV)]),
    )

  it('has the stack: PostgreSQL, 3 NATS nodes, api x2, dispatcher, worker x2, webhooks, simulator, Prometheus, Grafana', () => {
    const roles = smsgw.map(([, s]) => s.command[0]).sort()
    assert.deepEqual(roles, [
      'api',
      'api',
      'carrier-sim',
      'dispatcher',
      'migrate',
      'webhooks',
      'worker',
      'worker',
    ])
    for (const name of ['postgres', 'nats-1', 'nats-2', 'nats-3', 'redis', 'prometheus', 'grafana'])
      assert.ok(services[name], name)
    assert.ok(existsSync(resolve(DEPLOY, smsgw[0]?.[1].build.context, smsgw[0]?.[1].build.dockerfile)))
  })

  it('runs only smsgw commands that exist, with environments the config schema accepts', () => {
    for (const [name, s] of smsgw) {
      assert.ok(COMMANDS.has(s.command[0]), `${name}: smsgw ${s.command[0]}`)
      const config = loadConfig(envOf(s))
      if (SERVING.includes(s.command[0])) {
        assert.match(config.DATABASE_URL ?? '', /@postgres:5432\//, name)
        assert.equal(config.SMSGW_NATS_REPLICAS, 3, name)
        for (const url of (config.NATS_URL ?? '').split(','))
          assert.ok(services[new URL(url).hostname], `${name}: NATS host of ${url}`)
        assert.equal(config.HOST, '0.0.0.0', `${name} listens beyond loopback`)
      }
    }
  })

  it("gives the workers a carrier file that parses and points at the simulator's SMPP port", () => {
    const sim = services['carrier-sim']
    const simOpts = parseCarrierSimArgs(sim.command.slice(1))
    for (const [name, s] of smsgw) {
      const path = envOf(s).SMSGW_CARRIERS
      if (!path) continue
      const mount = (s.volumes as string[]).find((v) => v.split(':')[1] === path)
      assert.ok(mount, `${name}: ${path} is mounted`)
      const carriers = parseCarrierFile(read(mount.split(':')[0] as string))
      for (const c of carriers) {
        assert.equal(c.type, 'smpp', 'SMPP only: HTTP receipt webhooks need per-carrier authentication')
        if (c.type === 'smpp') {
          assert.equal(c.host, 'carrier-sim')
          assert.equal(c.port, simOpts.smppPort)
        }
      }
    }
    assert.equal(simOpts.host, '0.0.0.0')
  })

  it('depends on, mounts and scrapes what exists', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const dep of Object.keys(s.depends_on ?? {})) assert.ok(services[dep], `${name} depends on ${dep}`)
      for (const v of (s.volumes ?? []) as string[]) {
        const source = v.split(':')[0] as string
        if (source.startsWith('.')) assert.ok(existsSync(join(DEPLOY, source)), `${name}: ${source}`)
        else assert.ok(source in (compose.volumes ?? {}), `${name}: volume ${source}`)
      }
    }
    for (const n of ['nats-1', 'nats-2', 'nats-3']) {
      const routes = services[n].command[services[n].command.indexOf('--routes') + 1] as string
      for (const r of routes.split(',')) assert.ok(services[new URL(r).hostname], `${n} route ${r}`)
    }
    const prom: Doc = parse(read('compose/prometheus.yml'))
    const scraped = new Set<string>()
    for (const job of prom.scrape_configs) {
      assert.match(job.job_name, /^smsgw-/)
      for (const t of job.static_configs.flatMap((c: Doc) => c.targets) as string[]) {
        const [host, port] = t.split(':')
        assert.ok(services[host as string], `scrape target ${t}`)
        assert.equal(envOf(services[host as string]).PORT, port, `${t}: the role's PORT`)
        scraped.add(host as string)
      }
    }
    const serving = smsgw.filter(([, s]) => SERVING.includes(s.command[0])).map(([n]) => n)
    assert.deepEqual([...scraped].sort(), serving.sort(), 'every serving role is scraped')
    // Grafana's provider reads the mounted deploy/grafana.
    const provider: Doc = parse(read('compose/grafana/provisioning/dashboards/smsgw.yml'))
    const mounted = (services.grafana.volumes as string[]).find((v) => v.startsWith('./grafana:'))
    assert.equal(mounted?.split(':')[1], provider.providers[0].options.path)
    const rules = (services.prometheus.volumes as string[]).find((v) => v.startsWith('./prometheus:'))
    assert.equal(rules?.split(':')[1], '/etc/prometheus/rules')
    assert.deepEqual(prom.rule_files, ['rules/*.yml'])
  })
})

describe('deploy/k8s', () => {
  const kustomization: Doc = parse(read('k8s/kustomization.yaml'))
  const docs: Doc[] = (kustomization.resources as string[]).flatMap((f) =>
    parseAllDocuments(read(`k8s/${f}`)).map((d) => d.toJS()),
  )
  const ofKind = (kind: string) => docs.filter((d) => d.kind === kind)
  const byName = (kind: string, name: string) => ofKind(kind).find((d) => d.metadata.name === name)
  const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
    Object.entries(selector).every(([k, v]) => labels[k] === v)

  it('has a Deployment per serving role, each with probes, requests, a non-root context, a Service and a PDB', () => {
    const deployments = ofKind('Deployment')
    assert.deepEqual(
      deployments.map((d) => d.spec.template.spec.containers[0].args[0]).sort(),
      [...SERVING].sort(),
    )
    for (const d of deployments) {
      const name = d.metadata.name
      const pod = d.spec.template
      assert.ok(matches(d.spec.selector.matchLabels, pod.metadata.labels), `${name}: selector`)
      assert.equal(pod.spec.securityContext.runAsNonRoot, true, name)
      assert.ok(pod.spec.securityContext.runAsUser > 0, name)
      for (const c of pod.spec.containers) {
        assert.ok(COMMANDS.has(c.args[0]), `${name}: smsgw ${c.args[0]}`)
        assert.equal(c.image, 'smsgw', `${name}: the image kustomize rewrites`)
        const port = c.ports.find((p: Doc) => p.name === 'http')
        assert.equal(port?.containerPort, 3000, name)
        assert.equal(c.livenessProbe.httpGet.path, '/health/live', name)
        assert.equal(c.readinessProbe.httpGet.path, '/health/ready', name)
        assert.equal(c.livenessProbe.httpGet.port, 'http', name)
        assert.equal(c.readinessProbe.httpGet.port, 'http', name)
        assert.ok(c.resources.requests.cpu && c.resources.requests.memory, `${name}: requests`)
        assert.equal(c.securityContext.allowPrivilegeEscalation, false, name)
        assert.equal(c.securityContext.readOnlyRootFilesystem, true, name)
        assert.deepEqual(c.securityContext.capabilities.drop, ['ALL'], name)
        assert.ok(
          c.volumeMounts.some((m: Doc) => m.mountPath === '/tmp'),
          `${name}: writable /tmp`,
        )
      }
      const services = ofKind('Service').filter((s) => matches(s.spec.selector, pod.metadata.labels))
      assert.equal(services.length, 1, `${name}: one Service`)
      assert.equal(services[0].spec.ports[0].targetPort, 'http')
      const pdbs = ofKind('PodDisruptionBudget').filter((p) =>
        matches(p.spec.selector.matchLabels, pod.metadata.labels),
      )
      assert.equal(pdbs.length, 1, `${name}: one PDB`)
      assert.ok(pdbs[0].spec.minAvailable < d.spec.replicas, `${name}: the PDB lets a node drain`)
    }
  })

  it('scales what exists: HPA for the api, KEDA on the bus window for the workers', () => {
    const hpa = byName('HorizontalPodAutoscaler', 'smsgw-api')
    assert.ok(byName('Deployment', hpa.spec.scaleTargetRef.name))
    const so = byName('ScaledObject', 'smsgw-worker')
    assert.ok(byName('Deployment', so.spec.scaleTargetRef.name))
    const prom = so.spec.triggers.find((t: Doc) => t.type === 'prometheus')
    assert.match(prom.metadata.query, /smsgw_lane_pending/)
  })

  it('configures every pod from objects that exist, with values the schemas accept', () => {
    const config = byName('ConfigMap', 'smsgw-config')
    const secrets = {
      DATABASE_URL: 'postgres://smsgw:x@postgres:5432/smsgw',
      REDIS_URL: 'redis://redis:6379',
      ...OPERATOR_ENV,
    }
    const loaded = loadConfig({ ...config.data, ...secrets })
    assert.equal(loaded.SMSGW_NATS_REPLICAS, 3)
    assert.equal(loaded.NATS_URL?.split(',').length, 3)
    const carriers = byName('ConfigMap', 'smsgw-carriers')
    assert.ok(parseCarrierFile(carriers.data['carriers.yaml']).length > 0)
    assert.equal(loaded.SMSGW_CARRIERS, `/etc/smsgw/${Object.keys(carriers.data)[0]}`)
    for (const w of [...ofKind('Deployment'), ...ofKind('Job')]) {
      const spec = w.spec.template.spec
      for (const c of spec.containers)
        for (const from of c.envFrom) {
          if (from.configMapRef)
            assert.ok(byName('ConfigMap', from.configMapRef.name), from.configMapRef.name)
          else assert.equal(from.secretRef.name, 'smsgw-secrets', 'the documented Secret')
        }
      for (const v of spec.volumes ?? [])
        if (v.configMap) assert.ok(byName('ConfigMap', v.configMap.name), v.configMap.name)
    }
    assert.ok(byName('Job', 'smsgw-migrate'))
    assert.equal(byName('Job', 'smsgw-migrate').spec.template.spec.containers[0].args[0], 'migrate')
  })
})

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))

  it('builds in one stage and runs the compiled build with production dependencies as a non-root user', () => {
    assert.equal([...dockerfile.matchAll(/^FROM /gm)].length, 2)
    assert.match(dockerfile, /^RUN npm ci --omit=dev/m)
    assert.match(dockerfile, /^COPY --from=build \/app\/dist \.\/dist$/m)
    const user = /^USER (\d+)(?::\d+)?$/m.exec(dockerfile)
    assert.ok(user && Number(user[1]) > 0, 'numeric non-root USER')
    assert.match(dockerfile, /^HEALTHCHECK [\s\S]*\/health\/live/m)
    assert.match(dockerfile, /^ENTRYPOINT \["node", "--max-semi-space-size=64", "bin\/smsgw\.js"\]$/m)
  })

  it('copies from the context only what exists and is not ignored', () => {
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm))
      for (const src of (m[1] as string).split(' ')) {
        assert.ok(existsSync(join(ROOT, src)), src)
        assert.ok(!ignored.includes(src), `${src} is in .dockerignore`)
      }
  })
})

describe('SMSGW_NATS_REPLICAS', () => {
  it('takes 1 to 5 and defaults to 1', () => {
    assert.equal(loadConfig({}).SMSGW_NATS_REPLICAS, 1)
    assert.equal(loadConfig({ SMSGW_NATS_REPLICAS: '3' }).SMSGW_NATS_REPLICAS, 3)
    assert.throws(() => loadConfig({ SMSGW_NATS_REPLICAS: '7' }), /SMSGW_NATS_REPLICAS/)
  })
})

describe('deploy/grafana and deploy/prometheus', () => {
  it('lays the dashboard out on the 24-column grid without overlaps, each panel on the datasource variable', () => {
    const dash: Doc = JSON.parse(read('grafana/smsgw.json'))
    assert.ok(dash.templating.list.some((v: Doc) => v.name === 'datasource' && v.type === 'datasource'))
    const ids = new Set<number>()
    const cells = new Set<string>()
    for (const p of dash.panels) {
      assert.ok(!ids.has(p.id), `panel id ${p.id} once`)
      ids.add(p.id)
      const { x, y, w, h } = p.gridPos
      assert.ok(x >= 0 && w > 0 && x + w <= 24, `${p.title}: within 24 columns`)
      for (let i = x; i < x + w; i++)
        for (let j = y; j < y + h; j++) {
          assert.ok(!cells.has(`${i},${j}`), `${p.title} overlaps another panel at ${i},${j}`)
          cells.add(`${i},${j}`)
        }
      if (p.type === 'row') continue
      assert.equal(p.datasource.uid, '${datasource}', p.title)
      const refIds = p.targets.map((t: Doc) => t.refId)
      assert.equal(new Set(refIds).size, refIds.length, `${p.title}: refIds`)
    }
  })

  it('gives every alert a severity and a runbook section in docs/operations.md', () => {
    const rules: Doc = parse(read('prometheus/smsgw-alerts.yml'))
    const ops = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8')
    const anchors = new Set([...ops.matchAll(/^#+ (.+)$/gm)].map((m) => (m[1] as string).toLowerCase()))
    const alerts = rules.groups.flatMap((g: Doc) => g.rules).filter((r: Doc) => r.alert)
    assert.ok(alerts.length >= 6)
    for (const r of alerts) {
      assert.match(r.labels.severity, /^(warning|critical)$/, r.alert)
      assert.equal(r.annotations.runbook, `docs/operations.md#${r.alert.toLowerCase()}`)
      assert.ok(anchors.has(r.alert.toLowerCase()), `a "### ${r.alert}" section`)
    }
  })
})
