// docker-compose.yml, offline (no Docker engine here): `docker-compose config`
// (Debian's docker-compose, installed by scripts/install-test-deps.sh) must
// accept it, and the file must start things in health order, check every
// messenger container's health with the image's script, create the topics,
// and feed Prometheus and the dashboard with metrics that exist.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

  it('has the datastores, the messenger processes and the observability stack', () => {
    const r = dockerCompose(['-f', 'docker-compose.yml', 'config', '--services']);
    expect(r.stdout.trim().split('\n').sort()).toEqual(
      [
        'mongo',
        'kafka',
        'kafka-init',
        'redis',
        ...PROCESSES.map((p) => p.name),
        'kafka-exporter',
        'prometheus',
        'grafana',
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

  it('starts everything only after what it depends on is healthy (or, for kafka-init, done)', () => {
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
        } else if (condition === 'service_completed_successfully' && dep !== 'kafka-init') {
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
      expect(jobs[p.name]).toBe(p.name === 'api-gateway' ? 'api-gateway:8080' : `${p.name}:9464`);
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
});
