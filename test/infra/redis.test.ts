// Checks that the Redis started by scripts/with-test-infra.sh answers, so a
// broken Redis start fails loudly here rather than obscurely elsewhere. Speaks
// raw RESP over node:net to depend on no Redis client library.
import { connect } from 'node:net';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
  throw new Error(
    'REDIS_URL is not set. Run the tests under scripts/with-test-infra.sh, ' +
      'e.g. `scripts/with-test-infra.sh npm test -- test/infra` (after scripts/install-test-deps.sh).',
  );
}

/**
 * Sends one RESP command and resolves with its reply: a simple string, error
 * or integer as its line ("+PONG", "-ERR ...", ":1"), a bulk string as its
 * content (null bulk as null). Enough for these checks; not a general parser.
 */
function command(url: URL, args: string[], timeoutMs = 2000): Promise<string | null> {
  const request = `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 6379) });
    let reply = '';
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no reply from ${url.host} within ${timeoutMs} ms`)));
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      const end = reply.indexOf('\r\n');
      if (end < 0) return;
      const line = reply.slice(0, end);
      if (!line.startsWith('$')) {
        socket.end();
        resolve(line);
        return;
      }
      const length = Number(line.slice(1));
      if (length < 0) {
        socket.end();
        resolve(null);
      } else if (reply.length >= end + 2 + length + 2) {
        socket.end();
        resolve(Buffer.from(reply.slice(end + 2, end + 2 + length), 'latin1').toString('utf8'));
      }
    });
    socket.on('error', (err) => reject(new Error(`Redis at ${url.host}: ${err.message}`)));
    socket.on('close', () => reject(new Error(`Redis at ${url.host} closed the connection without a reply`)));
  });
}

describe('Redis test server', () => {
  const url = new URL(redisUrl);

  it('is a loopback redis:// URL', () => {
    expect(url.protocol).toBe('redis:');
    expect(url.hostname).toBe('127.0.0.1');
  });

  it('answers PING', async () => {
    await expect(command(url, ['PING'])).resolves.toBe('+PONG');
  });

  it('stores and reads back a value', async () => {
    const key = `infra-test:${process.pid}:${Date.now()}`;
    await expect(command(url, ['SET', key, 'ok', 'PX', '10000'])).resolves.toBe('+OK');
    await expect(command(url, ['GET', key])).resolves.toBe('ok');
  });
});
