// A service reports its event bus without letting it gate readiness: the
// user service, as its own process (main.ts), reaches the Kafka mock cluster
// only through a TCP proxy. Cutting the proxy makes the bus unusable:
// `dependency_up{dependency="kafka"}` reads 0, while the service keeps
// reporting SERVING well past the grace (the outbox carries its writes
// through the outage — kafka-outage-drill.test.ts — so taking every replica
// out of rotation would only turn a delay into an outage); with the proxy
// back the gauge reads 1. The grace logic for dependencies that do gate
// readiness (the datastore) is platform/src/dependencies.spec.ts's. Runs
// under scripts/with-test-infra.sh (make test).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, makeGenericClientConstructor } from '@grpc/grpc-js';
import { closedPort, type NodeProcess, spawnNode } from '@messenger/platform/testing';
import { service as healthService } from 'grpc-health-check';
import { kafkaBrokers } from './support/kafka.ts';
import { type KafkaProxy, startKafkaProxy } from './support/kafka-proxy.ts';
import { waitFor } from './support/wait.ts';

const here = dirname(fileURLToPath(import.meta.url));
const GRACE_MS = 1500;
const Health = makeGenericClientConstructor(healthService, 'Health');

describe('a service whose event bus is unreachable', () => {
  let proxy: KafkaProxy;
  let service: NodeProcess;
  let port: number;
  let metricsPort: number;
  let health: InstanceType<typeof Health>;

  beforeAll(async () => {
    const [broker] = kafkaBrokers();
    if (broker === undefined) throw new Error('KAFKA_BROKERS names no broker');
    proxy = await startKafkaProxy(broker);
    metricsPort = await closedPort();
    service = spawnNode(join(here, '../../services/user/src/main.ts'), {
      PATH: process.env.PATH,
      USER_GRPC_PORT: '0',
      EVENT_BUS: 'kafka',
      KAFKA_BROKERS: proxy.address,
      KAFKA_IDEMPOTENT_PRODUCER: 'false',
      KAFKA_CREATE_TOPICS: 'false',
      METRICS_PORT: String(metricsPort),
      HEALTH_CHECK_INTERVAL_MS: '200',
      HEALTH_DEPENDENCY_GRACE_MS: String(GRACE_MS),
    });
    const [, bound] = await service.waitFor(/"port":(\d+)[^\n]*user service listening/);
    port = Number(bound);
    health = new Health(`127.0.0.1:${port}`, credentials.createInsecure());
  }, 60_000);

  afterAll(async () => {
    health?.close();
    await service?.stop('SIGKILL');
    await proxy?.stop();
  });

  const status = (name: string) =>
    new Promise<string>((resolve, reject) => {
      const check = healthService.Check;
      if (!check) throw new Error('grpc.health.v1.Health has no Check');
      health.makeUnaryRequest(
        '/grpc.health.v1.Health/Check',
        (req: { service: string }) => check.requestSerialize(req),
        (buf: Buffer) => check.responseDeserialize(buf) as { status: string },
        { service: name },
        { deadline: Date.now() + 2000 },
        (err, res) => (err ? reject(err) : resolve(res?.status ?? '')),
      );
    });
  const kafkaUp = async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    return /^dependency_up\{dependency="kafka"\} (\d)/m.exec(text)?.[1];
  };

  it('reports Kafka down in dependency_up, keeps serving past the grace, and reports it back up', async () => {
    expect(await status('')).toBe('SERVING');
    expect(await kafkaUp()).toBe('1');

    await proxy.stop();
    await waitFor('dependency_up{kafka} 0', async () => (await kafkaUp()) === '0');
    await new Promise((r) => setTimeout(r, 2 * GRACE_MS));
    expect(await kafkaUp()).toBe('0');
    expect(await status('')).toBe('SERVING');
    expect(await status('messenger.user.v1.UserService')).toBe('SERVING');
    expect(await status('liveness')).toBe('SERVING');

    await proxy.start();
    await waitFor('dependency_up{kafka} 1', async () => (await kafkaUp()) === '1', 30_000);
    expect(await status('')).toBe('SERVING');
  }, 90_000);
});
