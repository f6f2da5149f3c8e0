// docker-compose.yml, offline (no Docker engine here): `docker-compose config`
// (Debian's docker-compose, installed by scripts/install-test-deps.sh) must
// accept it, and the file must start things in health order, check every
// messenger container's health with the image's script, create the topics,
// and feed Prometheus and the dashboard with metrics that exist.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { PROCESSES, ROOT } from '../../scripts/deploy/processes.ts';
import { isMessengerService, readCompose } from './deploy-env.ts';

const compose = readCompose();
const services = compose.services;

function dockerCompose(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('docker-compose', args, { cwd: ROOT, encoding: 'utf8' });
  if (r.error) {
    throw new Error(
      `docker-compose is not installed (${r.error.message}); run scripts/install-test-deps.sh (Debian package docker-compose)`,
    );
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('docker-compose.yml', () => {
  it('is a valid compose file (docker-compose config)', () => {
    const r = dockerCompose(['-f', 'docker-compose.yml', 'config', '--quiet']);
    expect({ status: r.status, stderr: r.stderr.trim() }).toEqual({ status: 0, stderr: '' });
  });

  it('has the datastores, the messenger processes and the observability stack (Jaeger with --profile tracing)', () => {
    const r = dockerCompose(['-f', 'docker-compose.yml', '--profile', 'tracing', 'config', '--services']);
    expect(r.stdout.trim().split('\n').sort()).toEqual(
      [
        'mongo',
        'kafka',
        'kafka-init',
        'redis',
        'minio',
        'minio-init',
        ...PROCESSES.map((p) => p.name),
        'kafka-exporter',
        'prometheus',
        'grafana',
        'jaeger',
      ].sort(),
    );
  });

  it('health-checks every messenger container with the image’s health script, by process name', () => {
    for (const [name, s] of Object.entries(services)) {
      if (!isMessengerService(s)) continue;
      expect({ name, test: s.healthcheck?.test }).toEqual({
        name,
        test: ['CMD', 'node', 'scripts/grpc-health-check.ts', name],
      });
    }
  });

  it('starts everything only after what it depends on is healthy (or, for kafka-init and minio-init, done)', () => {
    const problems: string[] = [];
    for (const [name, s] of Object.entries(services)) {
      const deps = s.depends_on ?? {};
      if (Array.isArray(deps)) {
        if (deps.length > 0) problems.push(`${name}: depends_on without conditions`);
        continue;
      }
      for (const [dep, { condition }] of Object.entries(deps)) {
        const target = services[dep];
        if (!target) problems.push(`${name}: depends on unknown ${dep}`);
        else if (condition === 'service_healthy' && !target.healthcheck) {
          problems.push(`${name}: waits for ${dep} to be healthy, but ${dep} has no healthcheck`);
        } else if (condition === 'service_completed_successfully' && dep !== 'kafka-init' && dep !== 'minio-init') {
          problems.push(`${name}: waits for ${dep} to complete, but it is a long-running service`);
        } else if (condition === undefined || condition === 'service_started') {
          problems.push(`${name}: starts when ${dep} merely started`);
        }
      }
    }
    for (const s of PROCESSES) {
      const deps = Object.keys((services[s.name]?.depends_on as Record<string, unknown> | undefined) ?? {});
      if (s.name !== 'api-gateway' && !deps.includes('mongo')) problems.push(`${s.name}: does not wait for mongo`);
      if (!deps.includes('kafka-init')) problems.push(`${s.name}: does not wait for the topics`);
      if (!deps.includes('redis')) problems.push(`${s.name}: does not wait for redis`);
    }
    expect(problems).toEqual([]);
  });

  it('creates every service’s events topic and its dead-letter topic with 4 partitions', () => {
    const script = readFileSync(join(ROOT, 'deploy', 'kafka', 'create-topics.sh'), 'utf8');
    expect(script).toMatch(/for service in auth user subscriber chat; do/);
    expect(script).toContain('"$service.events" "$service.events.dlq"');
    expect(script).toContain('--partitions 4');
  });

  it('makes Prometheus scrape every process and the Kafka exporter, one job per process', () => {
    const config = parse(readFileSync(join(ROOT, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const jobs = Object.fromEntries(config.scrape_configs.map((j) => [j.job_name, j.static_configs[0]?.targets[0]]));
    for (const p of PROCESSES) {
      expect(services[p.name]).toBeDefined();
      expect(jobs[p.name]).toBe(`${p.name}:9464`);
    }
    expect(jobs.kafka).toBe('kafka-exporter:9308');
    expect(services['kafka-exporter']).toBeDefined();
  });

  it('charts only metrics the code (or the exporters) define', () => {
    const dashboard = readFileSync(join(ROOT, 'deploy', 'grafana', 'dashboards', 'messenger.json'), 'utf8');
    const exprs = [...dashboard.matchAll(/"expr": "((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`) as string);
    expect(exprs.length).toBeGreaterThan(10);
    const names = new Set(
      exprs.flatMap((e) =>
        [...e.matchAll(/\b((?:http|grpc|gateway)_[a-z_]+?)(?:_bucket|_count|_sum)?\b[{[)]/g)].map((m) => m[1]),
      ),
    );
    const sources = [
      readFileSync(join(ROOT, 'platform', 'src', 'metrics.ts'), 'utf8'),
      readFileSync(join(ROOT, 'api-gateway', 'src', 'metrics.ts'), 'utf8'),
    ].join('\n');
    expect(names.size).toBeGreaterThanOrEqual(5);
    // A metric is defined where its name is a string literal of the code.
    expect([...names].filter((n) => !sources.includes(`'${n}'`))).toEqual([]);
  });

  it('selects the gateway by a job variable, so the dashboard works whatever the scrape job is called', () => {
    const dashboard = JSON.parse(
      readFileSync(join(ROOT, 'deploy', 'grafana', 'dashboards', 'messenger.json'), 'utf8'),
    ) as {
      templating: { list: { name: string; query: { query: string } }[] };
    };
    const text = JSON.stringify(dashboard);
    // No job named in a query: compose calls it api-gateway, Kubernetes whatever its scrape configuration says.
    expect(text.match(/job=~?\\"[^$\\]/g) ?? []).toEqual([]);
    expect(text).toContain('job=~\\"$gateway_job\\"');
    const variable = dashboard.templating.list.find((v) => v.name === 'gateway_job');
    expect(variable?.query.query).toBe('label_values(http_request_duration_seconds_count, job)');
  });

  it('builds the messenger image in one service; the others run it without pulling and start after it', () => {
    const messenger = Object.entries(services).filter(([, s]) => isMessengerService(s));
    const builders = messenger.filter(([, s]) => s.build !== undefined).map(([name]) => name);
    // Several services building one tag in parallel fail the first `docker compose up --build`.
    expect(builders).toHaveLength(1);
    const builder = builders[0] as string;
    const problems: string[] = [];
    for (const [name, s] of messenger) {
      const x = s as typeof s & { pull_policy?: string; init?: boolean };
      if (x.image !== 'messenger:local') problems.push(`${name}: image ${x.image}`);
      // The tini init: SIGTERM reaches node, and zombies are reaped.
      if (x.init !== true) problems.push(`${name}: no init: true`);
      if (name === builder) continue;
      if (x.pull_policy !== 'never') problems.push(`${name}: pull_policy ${x.pull_policy}, not never`);
      if (!Object.keys((x.depends_on as Record<string, unknown> | undefined) ?? {}).includes(builder)) {
        problems.push(`${name}: does not start after ${builder}, which builds the image`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('deploy/kafka/create-topics.sh (kafka-init)', () => {
  /** Runs the script against a fake kafka-topics.sh that fails its first `failures` calls. */
  function run(failures: number, attempts: number) {
    const dir = mkdtempSync(join(tmpdir(), 'kafka-init-'));
    try {
      const fake = join(dir, 'kafka-topics.sh');
      writeFileSync(
        fake,
        [
          '#!/bin/sh',
          `n=$(cat "${dir}/calls" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "${dir}/calls"`,
          `[ "$n" -le ${failures} ] && { echo "broker not ready" >&2; exit 1; }`,
          `echo "$*" >> "${dir}/created"`,
        ].join('\n'),
      );
      chmodSync(fake, 0o755);
      const r = spawnSync('sh', [join(ROOT, 'deploy', 'kafka', 'create-topics.sh')], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, KAFKA_BIN: dir, ATTEMPTS: String(attempts), RETRY_DELAY_SECONDS: '0' },
      });
      let created: string[] = [];
      try {
        created = readFileSync(join(dir, 'created'), 'utf8').trim().split('\n');
      } catch {}
      return { status: r.status, stderr: r.stderr, created };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('retries while the broker refuses, then creates every topic', () => {
    const r = run(3, 5);
    expect(r.status).toBe(0);
    expect(r.created.filter((c) => c.includes('--create')).map((c) => c.match(/--topic (\S+)/)?.[1])).toEqual([
      ...['auth', 'user', 'subscriber', 'chat'].flatMap((s) => [`${s}.events`, `${s}.events.dlq`]),
      'chat.ephemeral',
    ]);
  });

  it('gives up with a non-zero exit after ATTEMPTS failures', () => {
    const r = run(100, 3);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('gave up after 3 attempts');
  });
});

describe('make up', () => {
  it('refuses with a clear message when Docker Compose v2 is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'no-compose-'));
    try {
      // A docker without the compose plugin.
      writeFileSync(join(dir, 'docker'), '#!/bin/sh\necho "docker: unknown command: docker $1" >&2\nexit 1\n');
      chmodSync(join(dir, 'docker'), 0o755);
      const r = spawnSync('make', ['--no-print-directory', 'up'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
      });
      expect({ status: r.status, says: r.stderr.includes('make up needs Docker Compose v2') }).toEqual({
        status: 2,
        says: true,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
