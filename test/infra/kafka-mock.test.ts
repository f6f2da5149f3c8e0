// Proves that kafkajs works against librdkafka's mock cluster
// (tools/kafka-mock, started by scripts/with-test-infra.sh): keyed produce,
// consumer-group consume with per-key order, and committed offsets honoured by
// the next member of the same group. Timings and limits: test/e2e/support/kafka.ts.
import { randomUUID } from 'node:crypto';
import { type Consumer, Kafka, type KafkaMessage, logLevel, type Producer } from 'kafkajs';

const brokersEnv = process.env.KAFKA_BROKERS;
if (!brokersEnv) {
  throw new Error(
    'KAFKA_BROKERS is not set. Run the tests under scripts/with-test-infra.sh, ' +
      'e.g. `scripts/with-test-infra.sh npm test -- test/infra` (after scripts/install-test-deps.sh).',
  );
}
const brokers = brokersEnv.split(',');

// Consumer settings that keep the mock fast: the mock
// holds each rebalance for about sessionTimeout - 1 s.
const consumerConfig = {
  sessionTimeout: 6000,
  rebalanceTimeout: 3000,
  heartbeatInterval: 300,
  maxWaitTimeInMs: 100,
};

const KEYS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];
const PER_KEY = 25;

interface Received {
  partition: number;
  key: string;
  value: string;
}

function decode(partition: number, message: KafkaMessage): Received {
  return { partition, key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' };
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('kafkajs through the librdkafka mock cluster', () => {
  const kafka = new Kafka({
    clientId: 'infra-test',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 50, retries: 8 },
  });
  // Unique per run, so that the topic is fresh and auto-created (4 partitions).
  const topic = `infra-test-${randomUUID()}`;
  const groupId = `infra-test-group-${randomUUID()}`;
  // The mock rejects the idempotent producer, so it must stay off here.
  const producer: Producer = kafka.producer({ idempotent: false, allowAutoTopicCreation: true });
  const consumers: Consumer[] = [];
  const admin = kafka.admin();

  function newConsumer(): Consumer {
    const consumer = kafka.consumer({ groupId, ...consumerConfig });
    consumers.push(consumer);
    return consumer;
  }

  beforeAll(async () => {
    await producer.connect();
    await admin.connect();
  });

  afterAll(async () => {
    // Disconnect is idempotent in kafkajs; do all even if one fails.
    await Promise.allSettled([...consumers.map((c) => c.disconnect()), producer.disconnect(), admin.disconnect()]);
  });

  it('delivers keyed messages to a group in per-key order and honours committed offsets', async () => {
    // Produce PER_KEY messages per key, interleaving keys, in several requests.
    const firstRound: { key: string; value: string }[] = [];
    for (let seq = 0; seq < PER_KEY; seq++) {
      for (const key of KEYS) firstRound.push({ key, value: `${key}:${seq}` });
    }
    for (let i = 0; i < firstRound.length; i += 50) {
      await producer.send({ topic, messages: firstRound.slice(i, i + 50) });
    }

    // The topic was auto-created by the mock with several partitions, so the
    // group really spreads keys over partitions.
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const partitionCount = metadata.topics[0]?.partitions.length ?? 0;
    expect(partitionCount).toBeGreaterThan(1);

    // First member of the group reads everything from the beginning.
    const received: Received[] = [];
    const first = newConsumer();
    await first.connect();
    await first.subscribe({ topic, fromBeginning: true });
    await first.run({
      eachMessage: async ({ partition, message }) => {
        received.push(decode(partition, message));
      },
    });
    await waitFor(() => received.length >= firstRound.length, 20000, `${firstRound.length} messages`);

    // Every message exactly once, and per key in production order on one partition.
    expect(received.map((r) => r.value).sort()).toEqual(firstRound.map((m) => m.value).sort());
    const partitionsUsed = new Set<number>();
    for (const key of KEYS) {
      const ofKey = received.filter((r) => r.key === key);
      expect(ofKey.map((r) => r.value)).toEqual(Array.from({ length: PER_KEY }, (_, seq) => `${key}:${seq}`));
      expect(new Set(ofKey.map((r) => r.partition)).size).toBe(1);
      partitionsUsed.add(ofKey[0]?.partition ?? -1);
    }
    expect(partitionsUsed.size).toBeGreaterThan(1);

    // Leaving the group finishes the running batch, whose offsets kafkajs
    // auto-commits; the group's committed offsets then equal the log ends.
    await first.disconnect();
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    const committedByPartition = new Map(committed[0]?.partitions.map((p) => [p.partition, p.offset]) ?? []);
    for (const end of ends) {
      // A partition without messages has nothing to commit ('-1').
      const expected = end.high === '0' ? '-1' : end.high;
      expect({ partition: end.partition, offset: committedByPartition.get(end.partition) }).toEqual({
        partition: end.partition,
        offset: expected,
      });
    }

    // A second member of the same group, even asking for fromBeginning,
    // resumes at the committed offsets: it sees only the new messages.
    const secondRound = KEYS.map((key) => ({ key, value: `${key}:${PER_KEY}` }));
    await producer.send({ topic, messages: secondRound });
    const receivedLater: Received[] = [];
    const second = newConsumer();
    await second.connect();
    await second.subscribe({ topic, fromBeginning: true });
    await second.run({
      eachMessage: async ({ partition, message }) => {
        receivedLater.push(decode(partition, message));
      },
    });
    await waitFor(() => receivedLater.length >= secondRound.length, 20000, `${secondRound.length} new messages`);
    // Within a partition older messages would have come first, so once all new
    // ones are in, any redelivery of committed ones would be visible already.
    expect(receivedLater.map((r) => r.value).sort()).toEqual(secondRound.map((m) => m.value).sort());
  }, 60000);
});
