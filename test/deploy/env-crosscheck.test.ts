// Cross-checks what docker-compose.yml and every rendered Kubernetes manifest
// set for each messenger container against that process's settings schema
// (the `*Settings` objects its config.ts exports):
//  - every variable exists in the schema (a typo is a variable the process never reads);
//  - every required setting (no default) is set;
//  - every known value parses as the process would parse it at start-up;
//  - nothing is left on a loopback default (127.0.0.1 inside a container is the container);
//  - listeners bind every interface; `*_SERVICE_ADDRESS` points at the right process and port;
//  - (Kubernetes) secret settings come from Secrets, never from literals or ConfigMaps.
import { type ConfigSpec, type Setting, setting } from '@messenger/platform/config';
import { type K8sObject, kustomizations, render } from '../../scripts/deploy/k8s.ts';
import { byEnv, isPresent, loadSettings, PROCESSES, type ProcessInfo } from '../../scripts/deploy/processes.ts';
import {
  type ComposeFile,
  type Container,
  composeContainers,
  effective,
  interpolate,
  k8sContainers,
  podTemplate,
  readCompose,
} from './deploy-env.ts';

/** Read by Node itself, not by a messenger schema; exact names, so a typo still fails. */
const NODE_RUNTIME_ENV = new Set(['NODE_ENV', 'NODE_OPTIONS', 'TZ']);

/** `<SVC>_SERVICE_ADDRESS` → the process it must reach. */
const ADDRESS_TARGET: Readonly<Record<string, string>> = {
  AUTH_SERVICE_ADDRESS: 'auth',
  USER_SERVICE_ADDRESS: 'user',
  CHAT_SERVICE_ADDRESS: 'chat',
  SUBSCRIBER_SERVICE_ADDRESS: 'subscriber',
  NOTIFICATION_SERVICE_ADDRESS: 'notification',
};

const schemas = new Map<string, ConfigSpec>();
beforeAll(async () => {
  for (const p of PROCESSES) if (isPresent(p)) schemas.set(p.name, await loadSettings(p));
});

function isLoopbackDefault(s: Setting<unknown>): boolean {
  return /(^|[/@,])(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(s.defaultValue ?? '');
}

/** Problems with one container's environment against its process's schema. */
function checkContainer(c: Container, spec: ConfigSpec, opts: { secretsFromSecrets: boolean }): string[] {
  const problems = [...c.problems.map((p) => `${c.where}: ${p}`)];
  if (c.process && c.nodeFlags.join(' ') !== c.process.nodeFlags.join(' ')) {
    problems.push(
      `${c.where}: starts node with ${JSON.stringify(c.nodeFlags)}; ${c.process.name} runs with ${JSON.stringify(c.process.nodeFlags)}`,
    );
  }
  const settings = byEnv(spec);
  const env = effective(c);
  const seen = new Map<string, string>();
  for (const e of c.env) {
    const prior = seen.get(e.name);
    if (prior !== undefined && prior !== e.origin) {
      problems.push(`${c.where}: ${e.name} is set twice (${prior}, ${e.origin}); keep one`);
    }
    seen.set(e.name, e.origin);
  }
  for (const [name, e] of env) {
    const s = settings.get(name);
    if (!s) {
      if (!NODE_RUNTIME_ENV.has(name)) {
        problems.push(`${c.where}: ${name} (from ${e.origin}) is not a setting of ${c.process?.name}`);
      }
      continue;
    }
    if (opts.secretsFromSecrets && s.secret && e.source !== 'secret') {
      problems.push(`${c.where}: ${name} is a secret; take it from a Secret (secretKeyRef), not a ${e.source}`);
    }
    if (e.value !== undefined && e.value !== '') {
      const parsed = s.schema.safeParse(e.value);
      if (!parsed.success) {
        const shown = s.secret ? '' : ` (${JSON.stringify(e.value)})`;
        problems.push(`${c.where}: ${name}${shown}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
      }
    }
  }
  for (const s of Object.values(spec)) {
    const e = env.get(s.env);
    const set = e !== undefined && (e.value === undefined || e.value !== '');
    if (s.defaultValue === undefined && !set) problems.push(`${c.where}: required setting ${s.env} is not set`);
    if (isLoopbackDefault(s) && !set) {
      problems.push(`${c.where}: ${s.env} is left on its loopback default, which inside a container is the container`);
    }
    if (/_(GRPC|HTTP)_HOST$/.test(s.env) && !['0.0.0.0', '::'].includes(e?.value ?? '')) {
      problems.push(`${c.where}: ${s.env} must be 0.0.0.0 so other containers (and probes) reach the process`);
    }
  }
  return problems;
}

/** The port a process listens on in a container: its port variable, else the schema default. */
function listenPort(c: Container, spec: ConfigSpec, p: ProcessInfo): number {
  const value = effective(c).get(p.portEnv)?.value;
  return Number(value || byEnv(spec).get(p.portEnv)?.defaultValue);
}

function withSchema(c: Container): { c: Container; spec: ConfigSpec; p: ProcessInfo } | undefined {
  if (!c.process) return undefined;
  const spec = schemas.get(c.process.name);
  return spec ? { c, spec, p: c.process } : undefined;
}

describe('docker-compose.yml', () => {
  const compose: ComposeFile = readCompose();
  const containers = composeContainers(compose);

  it('runs every process of the system, each from a known entry point', () => {
    expect(containers.filter((c) => !c.process).map((c) => `${c.where}: command ${JSON.stringify(c.args)}`)).toEqual(
      [],
    );
    expect(containers.map((c) => c.process?.name).sort()).toEqual(PROCESSES.map((p) => p.name).sort());
  });

  for (const p of PROCESSES) {
    (isPresent(p) ? it : it.skip)(`sets only ${p.name}'s settings, with valid values, nothing left on loopback`, () => {
      const spec = schemas.get(p.name);
      if (!spec) throw new Error(`no schema for ${p.name}`);
      const problems = containers
        .filter((c) => c.process === p)
        .flatMap((c) => checkContainer(c, spec, { secretsFromSecrets: false }));
      expect(problems).toEqual([]);
    });
  }

  it('points every *_SERVICE_ADDRESS at the compose service running that process, on its port', () => {
    const problems: string[] = [];
    const byService = new Map(
      Object.keys(compose.services).map((name) => [
        name,
        containers.find((c) => c.where === `compose service ${name}`),
      ]),
    );
    for (const c of containers) {
      for (const e of c.env) {
        const target = ADDRESS_TARGET[e.name];
        if (!target || !e.value) continue;
        const [host, port] = e.value.split(':');
        const callee = byService.get(host ?? '');
        const calleeInfo = callee && withSchema(callee);
        if (!callee) problems.push(`${c.where}: ${e.name}=${e.value}: no compose service ${host}`);
        else if (callee.process?.name !== target) {
          problems.push(`${c.where}: ${e.name}=${e.value}: ${host} runs ${callee.process?.name}, not ${target}`);
        } else if (calleeInfo && listenPort(callee, calleeInfo.spec, calleeInfo.p) !== Number(port)) {
          problems.push(
            `${c.where}: ${e.name}=${e.value}: ${host} listens on ${listenPort(callee, calleeInfo.spec, calleeInfo.p)}`,
          );
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('interpolates like compose: defaults, empty, $$', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's ${…} syntax, on purpose
    expect(interpolate('a:${X:-dev-only-x},b:${Y-y}')).toBe('a:dev-only-x,b:y');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose's ${…} syntax, on purpose
    expect(interpolate('${UNSET}|$UNSET|$$HOME')).toBe('||$HOME');
  });
});

describe.each(kustomizations().map((k) => [k.name, k.dir]))('k8s %s', (_name, dir) => {
  let objects: K8sObject[] = [];
  let containers: Container[] = [];
  beforeAll(() => {
    objects = render(dir);
    containers = k8sContainers(objects);
  });

  it('runs only known entry points', () => {
    expect(containers.length).toBeGreaterThan(0);
    expect(containers.filter((c) => !c.process).map((c) => `${c.where}: args ${JSON.stringify(c.args)}`)).toEqual([]);
  });

  for (const p of PROCESSES) {
    (isPresent(p) ? it : it.skip)(
      `sets only ${p.name}'s settings, secrets from Secrets, nothing left on loopback`,
      () => {
        const spec = schemas.get(p.name);
        if (!spec) throw new Error(`no schema for ${p.name}`);
        const mine = containers.filter((c) => c.process === p);
        expect(mine.length).toBeGreaterThan(0);
        expect(mine.flatMap((c) => checkContainer(c, spec, { secretsFromSecrets: true }))).toEqual([]);
      },
    );
  }

  it('points every *_SERVICE_ADDRESS at a Service whose pods run that process on that port', () => {
    const problems: string[] = [];
    const services = new Map(objects.filter((o) => o.kind === 'Service').map((o) => [o.metadata.name, o]));
    const workloads = objects.filter((o) => podTemplate(o));
    for (const c of containers) {
      for (const e of c.env) {
        const target = ADDRESS_TARGET[e.name];
        if (!target || !e.value) continue;
        const [host = '', port] = e.value.split(':');
        const svc = services.get(host.split('.')[0] ?? '');
        if (!svc) {
          problems.push(`${c.where}: ${e.name}=${e.value}: no Service ${host}`);
          continue;
        }
        const spec = svc.spec as { selector?: Record<string, string>; ports: { port: number; targetPort?: unknown }[] };
        if (!spec.ports.some((sp) => sp.port === Number(port))) {
          problems.push(`${c.where}: ${e.name}=${e.value}: Service ${host} has no port ${port}`);
        }
        const selected = workloads.filter((w) =>
          Object.entries(spec.selector ?? {}).every(([k, v]) => podTemplate(w)?.metadata?.labels?.[k] === v),
        );
        if (selected.length === 0) problems.push(`${c.where}: ${e.name}: Service ${host} selects no pods`);
        for (const w of selected) {
          for (const callee of k8sContainers([w, ...objects.filter((o) => o.kind === 'ConfigMap')])) {
            const info = withSchema(callee);
            if (callee.process?.name !== target) {
              problems.push(`${c.where}: ${e.name}: Service ${host} selects ${callee.where}, which is not ${target}`);
            } else if (info && listenPort(callee, info.spec, info.p) !== Number(port)) {
              problems.push(
                `${c.where}: ${e.name}=${e.value}: ${callee.where} listens on ${listenPort(callee, info.spec, info.p)}`,
              );
            }
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('the cross-check itself', () => {
  it('catches a misspelt variable, a bad value, a missing address and a literal secret', () => {
    const spec = schemas.get('subscriber');
    if (!spec) throw new Error('subscriber schema missing');
    const subscriber = PROCESSES.find((p) => p.name === 'subscriber');
    const env = (name: string, value: string) => ({ name, value, source: 'literal' as const, origin: 'test' });
    const problems = checkContainer(
      {
        where: 'test',
        process: subscriber,
        args: [],
        nodeFlags: [],
        problems: [],
        env: [
          env('SUBSCRIBER_GRPC_HOTS', '0.0.0.0'),
          env('SUBSCRIBER_GRPC_PORT', 'fifty'),
          env('SUBSCRIBER_SERVICE_SECRET', 'literal-secret-value'),
        ],
      },
      spec,
      { secretsFromSecrets: true },
    );
    const text = problems.join('\n');
    expect(text).toContain('SUBSCRIBER_GRPC_HOTS (from test) is not a setting of subscriber');
    expect(text).toContain('SUBSCRIBER_GRPC_PORT ("fifty")');
    expect(text).toContain('USER_SERVICE_ADDRESS is left on its loopback default');
    expect(text).toContain('SUBSCRIBER_SERVICE_SECRET is a secret');
    expect(text).toContain('SUBSCRIBER_GRPC_HOST must be 0.0.0.0');
    expect(text).not.toContain('literal-secret-value');
  });

  it('catches a required setting that is not set', () => {
    const spec = { needed: setting.string('SOME_REQUIRED_THING', undefined, { description: 'test' }) };
    const problems = checkContainer(
      { where: 'test', process: undefined, args: [], nodeFlags: [], problems: [], env: [] },
      spec,
      { secretsFromSecrets: false },
    );
    expect(problems).toEqual(['test: required setting SOME_REQUIRED_THING is not set']);
  });

  it('catches a process started without the node flags it runs with', () => {
    const gateway = PROCESSES.find((p) => p.name === 'api-gateway');
    if (!gateway) throw new Error('api-gateway missing');
    expect(gateway.nodeFlags.length).toBeGreaterThan(0);
    const entry = gateway.entry;
    const problems = checkContainer(
      { where: 'test', process: gateway, args: [entry], nodeFlags: [], problems: [], env: [] },
      {},
      { secretsFromSecrets: false },
    );
    expect(problems).toEqual([`test: starts node with []; api-gateway runs with ${JSON.stringify(gateway.nodeFlags)}`]);
  });
});
