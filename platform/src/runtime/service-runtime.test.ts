// Cluster-mode wiring against the real infrastructure of the test run.
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../config.ts';
import { createEnvelope, packPayload } from '../events/envelope.ts';
import { runtimeSettings, type ServiceRuntime, startServiceRuntime } from './service-runtime.ts';

const { REDIS_URL, KAFKA_BROKERS } = process.env;
if (!REDIS_URL || !KAFKA_BROKERS) {
  throw new Error('REDIS_URL and KAFKA_BROKERS must be set: run under scripts/with-test-infra.sh (make test does)');
}

describe('service runtime in cluster mode', () => {
  const runtimes: ServiceRuntime[] = [];
  const config = loadConfig(runtimeSettings, {
    LOG_LEVEL: 'silent',
    EVENT_BUS: 'kafka',
    KAFKA_BROKERS,
    KAFKA_IDEMPOTENT_PRODUCER: 'false',
    KAFKA_CREATE_TOPICS: 'false',
    REVOCATION_STORE: 'redis',
    REDIS_URL,
  });

  afterAll(async () => {
    await Promise.all(runtimes.map((r) => r.close()));
  });

  it('shares revocations through Redis and events through Kafka between processes', async () => {
    const a = await startServiceRuntime('svc-a', config);
    runtimes.push(a);
    const b = await startServiceRuntime('svc-b', config);
    runtimes.push(b);

    const session = randomUUID();
    await a.revocations.revokeSession(session, Date.now() / 1000 + 60);
    await expect(b.revocations.isRevoked(session)).resolves.toBe(true);

    const topic = `runtime-test-${randomUUID()}`;
    const received: string[] = [];
    await b.bus.subscribe({
      topics: [topic],
      group: `runtime-test-${randomUUID()}`,
      delivery: 'shared',
      handle: async (event) => {
        received.push(event.id);
      },
    });
    const event = createEnvelope({
      type: 'test.thing.created',
      source: 'svc-a',
      key: 'k',
      payload: packPayload('t.T', new Uint8Array()),
    });
    await a.bus.publish(topic, [event]);
    const until = Date.now() + 20_000;
    while (received.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(received).toEqual([event.id]);
  });
});
