// The Prometheus alert rules (deploy/prometheus/alerts.yml) and the compose
// Prometheus configuration that loads them, checked and unit-tested with
// promtool (Debian package prometheus, installed by scripts/install-test-deps.sh).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { K8S_DIR, render } from '../../scripts/deploy/k8s.ts';
import { ROOT } from '../../scripts/deploy/processes.ts';

const DIR = join(ROOT, 'deploy', 'prometheus');

function promtool(args: string[], cwd = DIR): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
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

  it('pass the same unit tests as the Kubernetes PrometheusRule (k8s/overlays/prometheus-operator) renders them', () => {
    const rule = render(join(K8S_DIR, 'overlays', 'prometheus-operator')).find((o) => o.kind === 'PrometheusRule');
    const groups = (rule?.spec as { groups?: unknown[] } | undefined)?.groups;
    expect(groups?.length).toBeGreaterThan(0);
    const dir = mkdtempSync(join(tmpdir(), 'prometheus-rule-'));
    try {
      writeFileSync(join(dir, 'alerts.yml'), stringify({ groups }));
      copyFileSync(join(DIR, 'alerts.test.yml'), join(dir, 'alerts.test.yml'));
      const r = promtool(['test', 'rules', 'alerts.test.yml'], dir);
      expect({ status: r.status, output: r.output }).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
