// Writes k8s/components/prometheus-operator/prometheusrule.yaml: the alert
// rules of deploy/prometheus/alerts.yml (the file the compose Prometheus loads
// and `promtool test rules` unit-tests) as a Prometheus Operator
// PrometheusRule, whose spec.groups takes rule groups as they are. The rules
// live in one place; test/deploy checks the committed object is current.
//   node scripts/k8s-prometheus-rule.ts      (make k8s-rules)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { K8S_DIR } from './deploy/k8s.ts';
import { ROOT } from './deploy/processes.ts';

export const ALERTS_FILE = join(ROOT, 'deploy', 'prometheus', 'alerts.yml');
export const PROMETHEUS_RULE_FILE = join(K8S_DIR, 'components', 'prometheus-operator', 'prometheusrule.yaml');

/** The PrometheusRule manifest carrying the rule groups of an alerts file's text. */
export function prometheusRule(alerts: string): string {
  const { groups } = parse(alerts) as { groups?: unknown[] };
  if (!Array.isArray(groups) || groups.length === 0) throw new Error('the alerts file has no rule groups');
  const rule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'messenger-alerts',
      labels: { 'app.kubernetes.io/name': 'messenger', 'app.kubernetes.io/part-of': 'messenger' },
    },
    spec: { groups },
  };
  return `# Generated from deploy/prometheus/alerts.yml by scripts/k8s-prometheus-rule.ts (make k8s-rules): do not edit.\n${stringify(rule, { lineWidth: 0 })}`;
}

if (import.meta.main) {
  writeFileSync(PROMETHEUS_RULE_FILE, prometheusRule(readFileSync(ALERTS_FILE, 'utf8')));
}
