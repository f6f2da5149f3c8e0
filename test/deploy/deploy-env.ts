// What the deployment files set for each messenger container, read the way
// docker compose and Kubernetes read them, for the cross-checks in
// env-crosscheck.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { K8sObject } from '../../scripts/deploy/k8s.ts';
import { type ProcessInfo, processOfArgs, ROOT } from '../../scripts/deploy/processes.ts';

/** Where a variable's value comes from; `value` is known for literals and ConfigMap keys. */
export interface EnvEntry {
  readonly name: string;
  readonly value?: string;
  readonly source: 'literal' | 'configmap' | 'secret' | 'field';
  /** For messages: where it was set. */
  readonly origin: string;
}

export interface Container {
  /** e.g. `compose service user` or `Deployment/chat-canary container chat`. */
  readonly where: string;
  readonly process: ProcessInfo | undefined;
  /** The command line after the image's `node` entrypoint. */
  readonly args: readonly string[];
  /** The flags in `args` before the entry point. */
  readonly nodeFlags: readonly string[];
  readonly env: readonly EnvEntry[];
  /** Problems found while reading (unknown sources, unresolvable references). */
  readonly problems: readonly string[];
}

// --- docker compose -------------------------------------------------------------

export const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');

export interface ComposeService {
  readonly image?: string;
  readonly build?: unknown;
  readonly command?: string | string[];
  readonly entrypoint?: string | string[];
  readonly environment?: Record<string, string | number | boolean | null> | string[];
  readonly healthcheck?: { readonly test?: string | string[] };
  readonly depends_on?: string[] | Record<string, { condition?: string }>;
  readonly ports?: string[];
}

export interface ComposeFile {
  readonly services: Record<string, ComposeService>;
}

export function readCompose(file = COMPOSE_FILE): ComposeFile {
  return parse(readFileSync(file, 'utf8'), { merge: true }) as ComposeFile;
}

/**
 * Compose interpolation with an empty environment: `${VAR:-default}` and
 * `${VAR-default}` give the default, `${VAR}`/`$VAR` give '', `$$` is `$`.
 * This is what a machine without an .env file runs, so it must be valid.
 */
export function interpolate(text: string): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, _name, op: string | undefined, arg: string | undefined) => {
      if (match === '$$') return '$';
      if (op === ':-' || op === '-') return arg ?? '';
      if (op === ':?' || op === '?') throw new Error(`${match}: required variable in docker-compose.yml`);
      return '';
    },
  );
}

/** A compose service that runs the messenger image (built from this repository). */
export function isMessengerService(s: ComposeService): boolean {
  return s.build !== undefined || (s.image ?? '').startsWith('messenger:');
}

function words(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v.map(String) : v.split(/\s+/).filter((w) => w !== '');
}

export function composeContainers(compose = readCompose()): Container[] {
  const out: Container[] = [];
  for (const [name, s] of Object.entries(compose.services)) {
    if (!isMessengerService(s)) continue;
    const problems: string[] = [];
    const args = words(s.command);
    if (s.entrypoint !== undefined) problems.push('overrides the image entrypoint (node)');
    const env: EnvEntry[] = [];
    const origin = `compose service ${name}`;
    const raw = s.environment ?? {};
    const pairs: [string, string | undefined][] = Array.isArray(raw)
      ? raw.map((item) => {
          const eq = item.indexOf('=');
          return eq < 0 ? [item, undefined] : [item.slice(0, eq), item.slice(eq + 1)];
        })
      : Object.entries(raw).map(([k, v]) => [k, v === null ? undefined : String(v)]);
    for (const [key, value] of pairs) {
      // `KEY` alone (or `KEY:` with no value) passes the variable through from the host.
      env.push({ name: key, source: 'literal', origin, value: value === undefined ? '' : interpolate(value) });
    }
    out.push({ where: origin, ...processOfArgs(args), args, env, problems });
  }
  return out;
}

// --- Kubernetes -------------------------------------------------------------------

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string };
    configMapKeyRef?: { name: string; key: string };
    fieldRef?: unknown;
    resourceFieldRef?: unknown;
  };
}
interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name: string };
  secretRef?: { name: string };
}
export interface PodContainer {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  lifecycle?: { preStop?: { exec?: { command?: string[] } } };
}
export interface Probe {
  grpc?: { port: number; service?: string };
  httpGet?: { path?: string; port: number | string };
}
export interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec: { containers: PodContainer[]; terminationGracePeriodSeconds?: number };
}

export function podTemplate(o: K8sObject): PodTemplate | undefined {
  if (o.kind === 'Deployment' || o.kind === 'StatefulSet' || o.kind === 'DaemonSet') {
    return (o.spec as { template: PodTemplate }).template;
  }
  if (o.kind === 'Job') return (o.spec as { template: PodTemplate }).template;
  return undefined;
}

export function k8sContainers(objects: readonly K8sObject[]): Container[] {
  const configMaps = new Map<string, Record<string, string>>();
  for (const o of objects) {
    if (o.kind === 'ConfigMap') configMaps.set(o.metadata.name, (o.data as Record<string, string> | undefined) ?? {});
  }
  const out: Container[] = [];
  for (const o of objects) {
    const template = podTemplate(o);
    if (!template) continue;
    for (const c of template.spec.containers) {
      const where = `${o.kind}/${o.metadata.name} container ${c.name}`;
      const problems: string[] = [];
      const env: EnvEntry[] = [];
      if (c.command) problems.push('overrides the image entrypoint (node); set args only');
      const args = c.args ?? [];
      for (const from of c.envFrom ?? []) {
        const prefix = from.prefix ?? '';
        if (from.configMapRef) {
          const data = configMaps.get(from.configMapRef.name);
          if (!data) {
            problems.push(`envFrom ConfigMap ${from.configMapRef.name} is not in the rendered manifests`);
            continue;
          }
          for (const [k, v] of Object.entries(data)) {
            env.push({
              name: prefix + k,
              value: v,
              source: 'configmap',
              origin: `ConfigMap ${from.configMapRef.name}`,
            });
          }
        } else if (from.secretRef) {
          problems.push(
            `envFrom Secret ${from.secretRef.name}: its keys cannot be checked; list each variable with secretKeyRef`,
          );
        }
      }
      for (const e of c.env ?? []) {
        const origin = `${where} env`;
        if (e.value !== undefined) env.push({ name: e.name, value: e.value, source: 'literal', origin });
        else if (e.valueFrom?.secretKeyRef) env.push({ name: e.name, source: 'secret', origin });
        else if (e.valueFrom?.configMapKeyRef) {
          const ref = e.valueFrom.configMapKeyRef;
          const value = configMaps.get(ref.name)?.[ref.key];
          if (value === undefined) problems.push(`${e.name}: ConfigMap ${ref.name} key ${ref.key} not found`);
          env.push({ name: e.name, value, source: 'configmap', origin: `ConfigMap ${ref.name}` });
        } else if (e.valueFrom) env.push({ name: e.name, source: 'field', origin });
        else env.push({ name: e.name, value: '', source: 'literal', origin });
      }
      out.push({ where, ...processOfArgs(args), args, env, problems });
    }
  }
  return out;
}

/** The value a container's process sees for `name` (the last definition wins, as in both runtimes). */
export function effective(c: Container): Map<string, EnvEntry> {
  const m = new Map<string, EnvEntry>();
  for (const e of c.env) m.set(e.name, e);
  return m;
}
