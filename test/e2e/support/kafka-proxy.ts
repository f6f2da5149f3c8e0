// A TCP proxy in front of one Kafka broker that the test can cut and restore,
// to make Kafka unreachable for one client without stopping the broker.
//
// A Kafka client uses its bootstrap address only to learn the cluster's
// brokers from a Metadata response, then connects to the addresses listed
// there. So the proxy rewrites the broker's port in Metadata (and
// FindCoordinator) responses to its own: every later connection of the client
// comes through the proxy too. Only the port changes, so frame sizes stay.
import { connect, createServer, type Server, type Socket } from 'node:net';

const API_PRODUCE = 0;
const API_METADATA = 3;
const API_FIND_COORDINATOR = 10;

export interface KafkaProxy {
  /** `127.0.0.1:<port>`, stable across stop() and start(). */
  readonly address: string;
  /** Listens again on the same port; connections reach the broker again. */
  start(): Promise<void>;
  /** Stops listening and cuts every open connection: the broker is unreachable. */
  stop(): Promise<void>;
  /** Connections accepted so far. */
  readonly connections: number;
  /**
   * Arms a lost acknowledgement: the next Produce request whose bytes contain
   * `topic` reaches the broker, which stores it, but its response is dropped
   * and the connection cut, as when a broker or network fails just after the
   * write. Resolves once that has happened.
   */
  loseNextProduceAck(topic: string): Promise<void>;
}

/** Proxies `127.0.0.1:<some free port>` to `upstream` (`host:port` of a single-broker cluster). */
export async function startKafkaProxy(upstream: string): Promise<KafkaProxy> {
  const [upHost, upPortText] = splitHostPort(upstream);
  const upPort = Number(upPortText);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  let connections = 0;
  let loseAck: { readonly topic: Buffer; readonly lost: () => void } | undefined;

  const listen = async () => {
    const s = createServer((client) => {
      connections++;
      const broker = connect({ host: upHost, port: upPort });
      sockets.add(client);
      sockets.add(broker);
      const close = () => {
        client.destroy();
        broker.destroy();
        sockets.delete(client);
        sockets.delete(broker);
      };
      client.on('error', close).on('close', close);
      broker.on('error', close).on('close', close);
      // Request correlation id → API key and version, to know how to read each response.
      const pending = new Map<number, { apiKey: number; apiVersion: number; lose?: () => void }>();
      frames(client, (frame) => {
        const apiKey = frame.readInt16BE(4);
        const armed = loseAck;
        const lose = armed && apiKey === API_PRODUCE && frame.includes(armed.topic) ? armed.lost : undefined;
        if (lose) loseAck = undefined;
        pending.set(frame.readInt32BE(8), { apiKey, apiVersion: frame.readInt16BE(6), ...(lose ? { lose } : {}) });
        broker.write(frame);
      });
      frames(broker, (frame) => {
        const correlationId = frame.readInt32BE(4);
        const request = pending.get(correlationId);
        pending.delete(correlationId);
        if (request?.lose) {
          // The broker has stored the records; the client never learns it.
          close();
          request.lose();
          return;
        }
        if (request) rewriteBrokerPorts(frame, request.apiKey, request.apiVersion, upPort, port);
        client.write(frame);
      });
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        s.off('error', reject);
        resolve();
      });
    });
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('kafka proxy has no port');
    port = address.port;
    server = s;
  };

  await listen();
  return {
    get address() {
      return `127.0.0.1:${port}`;
    },
    get connections() {
      return connections;
    },
    async start() {
      if (!server) await listen();
    },
    loseNextProduceAck(topic) {
      return new Promise<void>((resolve) => {
        loseAck = { topic: Buffer.from(topic), lost: resolve };
      });
    },
    async stop() {
      const s = server;
      server = undefined;
      if (!s) return;
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      await closed;
    },
  };
}

/** Calls `onFrame` with each complete Kafka frame (4-byte size prefix included). */
function frames(socket: Socket, onFrame: (frame: Buffer) => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4) {
      const size = buffered.readInt32BE(0);
      if (buffered.length < 4 + size) break;
      onFrame(Buffer.from(buffered.subarray(0, 4 + size)));
      buffered = buffered.subarray(4 + size);
    }
  });
}

/**
 * Rewrites, in place, the port of every broker listed with `from` to `to`,
 * in Metadata v0–v8 and FindCoordinator v0–v2 responses (the non-flexible
 * versions, which are all kafkajs speaks). Layout after the 4-byte size and
 * the 4-byte correlation id:
 *   Metadata:        [throttle_time_ms v3+] [brokers: node_id host port [rack v1+]] …
 *   FindCoordinator: [throttle_time_ms v1+] error_code [error_message v1+] node_id host port
 */
function rewriteBrokerPorts(frame: Buffer, apiKey: number, version: number, from: number, to: number): void {
  let at = 8;
  const skipString = () => {
    const length = frame.readInt16BE(at);
    at += 2 + Math.max(length, 0);
  };
  const patchPort = () => {
    if (frame.readInt32BE(at) === from) frame.writeInt32BE(to, at);
    at += 4;
  };
  if (apiKey === API_METADATA && version <= 8) {
    if (version >= 3) at += 4;
    const brokers = frame.readInt32BE(at);
    at += 4;
    for (let i = 0; i < brokers; i++) {
      at += 4; // node_id
      skipString(); // host
      patchPort();
      if (version >= 1) skipString(); // rack
    }
  } else if (apiKey === API_FIND_COORDINATOR && version <= 2) {
    if (version >= 1) at += 4;
    at += 2; // error_code
    if (version >= 1) skipString(); // error_message
    at += 4; // node_id
    skipString(); // host
    patchPort();
  }
}

function splitHostPort(hostPort: string): [string, string] {
  const i = hostPort.lastIndexOf(':');
  if (i <= 0) throw new Error(`not host:port: ${hostPort}`);
  return [hostPort.slice(0, i), hostPort.slice(i + 1)];
}
