// Blue-green promotion's cluster steps (scripts/k8s-promote.ts): pre-scale
// the target colour, wait for it, smoke-test it through its own Service, and
// only then switch the live Service. No cluster runs here, so `kubectl` is a
// stand-in script that records each call and answers the two queries the
// script reads (the live colour's ready pods; port-forward's "Forwarding
// from" line, pointing at a real gateway of the embedded system). The smoke
// test is the real one, over real HTTP, against that gateway.
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import { K8S_DIR } from '../../scripts/deploy/k8s.ts';
import { LIVE_SERVICE_FILE, promote, readColors } from '../../scripts/k8s-promote.ts';
import { SYSTEM_ENV } from '../e2e/support/system.ts';

const STAND_IN = `#!/bin/sh
printf '%s\\n' "$*" >> "$KUBECTL_STAND_IN_LOG"
case "$*" in
  *" get deployment/"*) echo "$KUBECTL_STAND_IN_READY" ;;
  *" port-forward "*) echo "Forwarding from 127.0.0.1:$KUBECTL_STAND_IN_PORT -> 8080"; exec sleep 600 ;;
  *" apply "*) cat > /dev/null ;;
esac
`;

const gateways: RunningSystem[] = [];
let tmp: string;
let overlay: string;
const saved = { ...process.env };

/** A running system whose gateway names itself `release`: its port. */
async function gatewayOf(release: string): Promise<string> {
  const system = await startSystem(loadEmbeddedConfig({ ...SYSTEM_ENV, GATEWAY_RELEASE: release }));
  gateways.push(system);
  return new URL(system.gatewayUrl).port;
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'k8s-promote-cluster-'));
  cpSync(K8S_DIR, join(tmp, 'k8s'), { recursive: true });
  overlay = join(tmp, 'k8s', 'overlays', 'blue-green');
  const kubectl = join(tmp, 'kubectl');
  writeFileSync(kubectl, STAND_IN);
  chmodSync(kubectl, 0o755);
  process.env.KUBECTL = kubectl;
  process.env.KUBECTL_STAND_IN_READY = '6';
});

afterAll(async () => {
  process.env = saved;
  await Promise.all(gateways.map((g) => g.stop()));
  rmSync(tmp, { recursive: true, force: true });
});

/** The kubectl calls made since the last call of this function. */
function calls(): string[] {
  const log = join(tmp, `calls-${Date.now()}`);
  const previous = process.env.KUBECTL_STAND_IN_LOG;
  process.env.KUBECTL_STAND_IN_LOG = log;
  if (previous === undefined) return [];
  try {
    return readFileSync(previous, 'utf8').trim().split('\n');
  } catch {
    return [];
  }
}

const liveColor = () => readColors(readFileSync(join(overlay, LIVE_SERVICE_FILE), 'utf8')).active;

it('refuses to switch when the smoke test reaches a gateway of the other colour', async () => {
  const from = liveColor();
  const to = from === 'blue' ? 'green' : 'blue';
  process.env.KUBECTL_STAND_IN_PORT = await gatewayOf(from);
  calls();
  await expect(promote({ target: to, apply: true, overlay })).rejects.toThrow(
    `the smoke test failed against api-gateway-${to}; nothing was switched`,
  );
  expect(liveColor()).toBe(from);
  const made = calls();
  expect(made.some((c) => c.includes(' apply '))).toBe(false);
  expect(made.some((c) => c.includes(`port-forward svc/api-gateway-${to}`))).toBe(true);
}, 60_000);

it('pre-scales the target to the live pod count, waits, smoke-tests it, then switches and restores its HPA', async () => {
  const from = liveColor();
  const to = from === 'blue' ? 'green' : 'blue';
  process.env.KUBECTL_STAND_IN_PORT = await gatewayOf(to);
  calls();
  await expect(promote({ target: to, apply: true, overlay })).resolves.toContain(`${from} → ${to}`);
  expect(liveColor()).toBe(to);
  expect(calls()).toEqual([
    `-n messenger get deployment/api-gateway-${from} -o jsonpath={.status.readyReplicas}`,
    `-n messenger patch hpa/api-gateway-${to} --type=merge -p {"spec":{"minReplicas":6}}`,
    `-n messenger scale deployment/api-gateway-${to} --replicas=6`,
    `-n messenger rollout status deployment/api-gateway-${to} --timeout=300s`,
    `-n messenger port-forward svc/api-gateway-${to} :80`,
    '-n messenger apply -f -',
    `-n messenger patch hpa/api-gateway-${to} --type=merge -p {"spec":{"minReplicas":2}}`,
  ]);
}, 60_000);
