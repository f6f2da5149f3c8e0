// The Prometheus alert rules (deploy/prometheus/alerts.yml) and the compose
// Prometheus configuration that loads them, checked and unit-tested with
// promtool (Debian package prometheus, installed by scripts/install-test-deps.sh).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../../scripts/deploy/processes.ts';

const DIR = join(ROOT, 'deploy', 'prometheus');

function promtool(args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8' });
  if (r.error) {
    throw new Error(
      `promtool is not installed (${r.error.message}); run scripts/install-test-deps.sh (Debian package prometheus)`,
    );
  }
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('Prometheus alert rules', () => {
  it('pass their unit tests (promtool test rules)', () => {
    const r = promtool(['test', 'rules', 'alerts.test.yml']);
    expect({ status: r.status, output: r.output }).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') });
  });

  it('are loaded by the compose Prometheus, whose configuration promtool accepts', () => {
    const r = promtool(['check', 'config', 'prometheus.yml']);
    expect({ status: r.status, output: r.output }).toEqual({
      status: 0,
      output: expect.stringContaining('8 rules found'),
    });
  });

  it('cover errors, latency, consumer lag, dead letters, targets down and readiness flapping, each tested', () => {
    const rules = parse(readFileSync(join(DIR, 'alerts.yml'), 'utf8')) as { groups: { rules: { alert: string }[] }[] };
    const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort();
    expect(alerts).toEqual([
      'MessengerConsumerLag',
      'MessengerDeadLetters',
      'MessengerGrpcErrorRate',
      'MessengerGrpcLatencyP99',
      'MessengerHttpErrorRate',
      'MessengerHttpLatencyP99',
      'MessengerReadinessFlapping',
      'MessengerTargetDown',
    ]);
    const tests = parse(readFileSync(join(DIR, 'alerts.test.yml'), 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const firing = new Set(
      tests.tests.flatMap((t) =>
        (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname),
      ),
    );
    expect(alerts.filter((a) => !firing.has(a))).toEqual([]);
  });
});
