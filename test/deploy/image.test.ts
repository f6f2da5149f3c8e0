// The Dockerfile (no Docker engine here to build it) and the health-check
// script it runs: the image must install every workspace, contain every entry
// point, run as a numeric non-root user, and the health script must find and
// probe each process as its schema configures it.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { byEnv, isPresent, loadSettings, PROCESSES, ROOT } from '../../scripts/deploy/processes.ts';
import { addressOf, check, detectTarget, TARGETS } from '../../scripts/grpc-health-check.ts';

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const dockerignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8');

describe('Dockerfile', () => {
  it('builds on Node 24 slim in two stages, with production dependencies only', () => {
    expect(dockerfile).toContain('ARG NODE_IMAGE=node:24-bookworm-slim');
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/RUN npm install --omit=dev /);
  });

  it('copies the manifest of every npm workspace before installing', () => {
    const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { link?: boolean }>;
    };
    // The workspaces as the lock knows them (globs expanded).
    const workspaces = Object.keys(lock.packages).filter(
      (p) => p !== '' && !p.startsWith('node_modules/') && !p.includes('/node_modules/'),
    );
    expect(workspaces.length).toBeGreaterThanOrEqual(root.workspaces.length);
    for (const ws of workspaces) expect(dockerfile).toContain(`COPY ${ws}/package.json ${ws}/`);
  });

  it('contains every entry point and the health script, and no tests', () => {
    for (const p of PROCESSES) {
      const top = p.entry.split('/')[0];
      expect(dockerfile).toContain(`COPY ${top}/ ${top}/`);
      expect(dockerignore).toContain(`!${top}/`);
    }
    expect(dockerfile).toContain('COPY scripts/grpc-health-check.ts scripts/');
    // The gateway reads the example client's files at start-up.
    expect(dockerfile).toContain('COPY examples/ examples/');
    expect(dockerignore).toContain('!examples/');
    expect(dockerignore).toContain('!scripts/grpc-health-check.ts');
    expect(dockerignore).toContain('**/*.test.ts');
    expect(dockerignore).toContain('**/node_modules');
  });

  it('runs as a numeric non-root user, node as entrypoint, health from the script', () => {
    expect(dockerfile).toMatch(/^USER 1000:1000$/m);
    expect(dockerfile).toContain('ENTRYPOINT ["node"]');
    expect(dockerfile).toMatch(/HEALTHCHECK [^\n]*\\\n\s+CMD \["node", "scripts\/grpc-health-check.ts"\]/);
  });

  it('starts the gateway by default, with the node flags it runs with', () => {
    const gateway = PROCESSES.find((p) => p.name === 'api-gateway');
    if (!gateway) throw new Error('api-gateway missing');
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
    expect(cmd).toBeDefined();
    expect(JSON.parse(cmd ?? '')).toEqual([...gateway.nodeFlags, gateway.entry]);
  });
});

describe('scripts/grpc-health-check.ts', () => {
  it('knows every process, with the entry point, port variable and default port of its schema', async () => {
    expect(Object.keys(TARGETS).sort()).toEqual(PROCESSES.map((p) => p.name).sort());
    for (const p of PROCESSES) {
      const t = TARGETS[p.name];
      expect({ entry: t?.entry, portEnv: t?.portEnv }).toEqual({ entry: p.entry, portEnv: p.portEnv });
      if (!isPresent(p)) continue;
      const settings = byEnv(await loadSettings(p));
      expect(String(t?.defaultPort)).toBe(settings.get(p.portEnv)?.defaultValue);
      expect(settings.has(t?.hostEnv ?? '')).toBe(true);
    }
  });

  it('connects over loopback when the process binds every interface', () => {
    const user = TARGETS.user;
    if (!user) throw new Error('user target missing');
    expect(addressOf(user, { USER_GRPC_HOST: '0.0.0.0', USER_GRPC_PORT: '6000' })).toEqual({
      host: '127.0.0.1',
      port: 6000,
    });
    expect(addressOf(user, {})).toEqual({ host: '127.0.0.1', port: 50052 });
  });

  it('finds the process from the container’s command lines', () => {
    const proc = mkdtempSync(join(tmpdir(), 'proc-'));
    try {
      mkdirSync(join(proc, '1'));
      writeFileSync(join(proc, '1', 'cmdline'), 'node\0services/chat/src/main.ts\0');
      mkdirSync(join(proc, 'self'));
      expect(detectTarget(proc)).toBe('chat');
    } finally {
      rmSync(proc, { recursive: true, force: true });
    }
  });

  it('reports a live user service healthy and an unreachable one unhealthy', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'services', 'user', 'src', 'main.ts')], {
      cwd: ROOT,
      env: { ...process.env, USER_GRPC_PORT: '0', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout?.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const m = /"port":(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.on('exit', (code) => reject(new Error(`user service exited (${code}) before listening`)));
      });
      expect(await check('user', { USER_GRPC_PORT: String(port) }, 2000)).toBeUndefined();
    } finally {
      child.kill('SIGTERM');
    }
    expect(await check('user', { USER_GRPC_PORT: '1' }, 1000)).toMatch(/grpc 127\.0\.0\.1:1: /);
    expect(await check('api-gateway', { GATEWAY_HTTP_PORT: '1' }, 1000)).toMatch(/127\.0\.0\.1:1\/healthz/);
  });
});
