// The standalone process starts with its secret set (defaults otherwise), stops cleanly on SIGTERM, and refuses to start without the secret.
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentials, status } from '@grpc/grpc-js';
import { ChatServiceClient } from '@messenger/gen/messenger/chat/v1/chat';
import { call, failure, spawnNode } from '@messenger/platform/testing';

const here = dirname(fileURLToPath(import.meta.url));

it('chat main.ts serves with defaults and exits 0 on SIGTERM', async () => {
  // Port 0 so the test never collides with a running service; everything else default.
  const service = spawnNode(join(here, 'main.ts'), {
    PATH: process.env.PATH,
    CHAT_GRPC_PORT: '0',
    CHAT_SERVICE_SECRET: 'chat-secret-for-tests',
  });
  try {
    const [, port] = await service.waitFor(/"port":(\d+)[^\n]*chat service listening/);
    const client = new ChatServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const refused = await failure(call(client, client.listChats, { pageSize: 0, pageToken: '' }));
      expect(refused.code).toBe(status.UNAUTHENTICATED);
    } finally {
      client.close();
    }
    await expect(service.stop()).resolves.toBe(0);
  } finally {
    await service.stop('SIGKILL');
  }
});

it('chat main.ts refuses to start without CHAT_SERVICE_SECRET, naming it', async () => {
  const service = spawnNode(join(here, 'main.ts'), { PATH: process.env.PATH, CHAT_GRPC_PORT: '0' });
  let output = '';
  service.child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const [code] = (await once(service.child, 'close')) as [number | null];
  expect(code).not.toBe(0);
  expect(output).toContain('CHAT_SERVICE_SECRET: is required in cluster mode');
});
