// The processes an operator runs in cluster mode, and where each one's
// settings schema lives. The single list the configuration reference, the
// environment cross-check and the deployment tests read.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ConfigSpec, Setting } from '@messenger/platform/config';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ProcessInfo {
  /** The name used in compose services, Kubernetes objects and logs. */
  readonly name: string;
  /** The entry point, relative to the repository root: `node <entry>` starts it. */
  readonly entry: string;
  /** The module whose exported `*Settings` object is the process's schema. */
  readonly configModule: string;
  /** The export to read; when absent from the module, its only `*Settings` export is taken. */
  readonly settingsExport: string;
  /** The variable holding the port the process serves (gRPC, or HTTP for the gateway). */
  readonly portEnv: string;
  readonly protocol: 'grpc' | 'http';
  /** Flags `node` is started with, before the entry (the same in every deployment file). */
  readonly nodeFlags: readonly string[];
}

/**
 * How the gateway's heap is collected, measured in docs/PERFORMANCE.md.
 *
 * - `--max-semi-space-size=16`: 16 MiB semi-spaces instead of Node's 32.
 *   Under load each scavenge then pauses the event loop about a millisecond
 *   instead of a few, and the gateway serves more requests per second (Tail
 *   latency).
 * - `--no-allocation-site-pretenuring`: V8 otherwise starts allocating an
 *   object literal's objects straight in the old generation once most of
 *   them have survived a scavenge. A request's objects all die young, but in
 *   about one gateway process in six that decision was taken early for the
 *   hot path and held for the process's life: a megabyte or more
 *   promoted per scavenge instead of kilobytes, mark-compacts every few
 *   seconds, and up to twice the CPU per request (Slow for life).
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16', '--no-allocation-site-pretenuring'];

export const PROCESSES: readonly ProcessInfo[] = [
  {
    name: 'auth',
    entry: 'services/auth/src/main.ts',
    configModule: 'services/auth/src/config.ts',
    settingsExport: 'authSettings',
    portEnv: 'AUTH_GRPC_PORT',
    protocol: 'grpc',
    nodeFlags: [],
  },
  {
    name: 'user',
    entry: 'services/user/src/main.ts',
    configModule: 'services/user/src/config.ts',
    settingsExport: 'userSettings',
    portEnv: 'USER_GRPC_PORT',
    protocol: 'grpc',
    nodeFlags: [],
  },
  {
    name: 'chat',
    entry: 'services/chat/src/main.ts',
    configModule: 'services/chat/src/config.ts',
    settingsExport: 'chatSettings',
    portEnv: 'CHAT_GRPC_PORT',
    protocol: 'grpc',
    nodeFlags: [],
  },
  {
    name: 'subscriber',
    entry: 'services/subscriber/src/main.ts',
    configModule: 'services/subscriber/src/config.ts',
    settingsExport: 'subscriberSettings',
    portEnv: 'SUBSCRIBER_GRPC_PORT',
    protocol: 'grpc',
    nodeFlags: [],
  },
  {
    name: 'notification',
    entry: 'services/notification/src/main.ts',
    configModule: 'services/notification/src/config.ts',
    settingsExport: 'notificationSettings',
    portEnv: 'NOTIFICATION_GRPC_PORT',
    protocol: 'grpc',
    nodeFlags: [],
  },
  {
    name: 'api-gateway',
    entry: 'api-gateway/src/main.ts',
    configModule: 'api-gateway/src/config.ts',
    settingsExport: 'gatewaySettings',
    portEnv: 'GATEWAY_HTTP_PORT',
    protocol: 'http',
    nodeFlags: GATEWAY_NODE_FLAGS,
  },
];

/** The process a command line after `node` starts (its first non-flag word), and the flags before it. */
export function processOfArgs(args: readonly string[]): { process: ProcessInfo | undefined; nodeFlags: string[] } {
  const at = args.findIndex((a) => !a.startsWith('-'));
  if (at < 0) return { process: undefined, nodeFlags: [...args] };
  return { process: processByEntry(args[at] as string), nodeFlags: args.slice(0, at) };
}

export function processByEntry(entry: string): ProcessInfo | undefined {
  const normalized = entry.replace(/^(\.\/|\/app\/)/, '');
  return PROCESSES.find((p) => p.entry === normalized);
}

export function processByName(name: string): ProcessInfo | undefined {
  return PROCESSES.find((p) => p.name === name);
}

/** Whether the process exists in this checkout yet (its config module is there). */
export function isPresent(p: ProcessInfo): boolean {
  return existsSync(join(ROOT, p.configModule));
}

function isSetting(value: unknown): value is Setting<unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.env === 'string' && typeof v.description === 'string' && typeof v.secret === 'boolean';
}

function isSpec(value: unknown): value is ConfigSpec {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.values(value).length > 0 &&
    Object.values(value).every(isSetting)
  );
}

/** The process's settings schema, imported from its config module. */
export async function loadSettings(p: ProcessInfo): Promise<ConfigSpec> {
  const mod = (await import(pathToFileURL(join(ROOT, p.configModule)).href)) as Record<string, unknown>;
  const named = mod[p.settingsExport];
  if (isSpec(named)) return named;
  const candidates = Object.entries(mod).filter(([k, v]) => k.endsWith('Settings') && isSpec(v));
  const only = candidates[0];
  if (candidates.length !== 1 || !only) {
    throw new Error(
      `${p.configModule}: expected the export ${p.settingsExport} (or exactly one *Settings export), found ${candidates.map(([k]) => k).join(', ') || 'none'}`,
    );
  }
  return only[1] as ConfigSpec;
}

/** Settings by variable name. */
export function byEnv(spec: ConfigSpec): Map<string, Setting<unknown>> {
  return new Map(Object.values(spec).map((s) => [s.env, s]));
}
