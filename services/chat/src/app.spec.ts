// The service as startChatService wires it: the store's outbox wakes the
// relay when a write commits, so events go out at once without any use case
// asking for it, although the relay would otherwise look only once a minute.
import { randomUUID } from 'node:crypto';
import { ChatType } from '@messenger/gen/messenger/chat/v1/chat';
import { call } from '@messenger/platform/testing';
import { type ChatTestSystem, readUpdates, startChatTestSystem } from './testing/chat-test-system.ts';

describe('startChatService', () => {
  let sys: ChatTestSystem;

  beforeAll(async () => {
    sys = await startChatTestSystem({ heartbeatIntervalMs: 50, relayPollIntervalMs: 60_000 });
  });
  afterAll(async () => {
    await sys.stop();
  });

  it('publishes a committed change at once: the outbox wakes the relay', async () => {
    const [a, b] = [await sys.newUser(), await sys.newUser()];
    await sys.befriend(a, b);
    const reader = await readUpdates(sys.client, b.md).ready();
    try {
      const started = Date.now();
      const { chat } = await call(
        sys.client,
        sys.client.createChat,
        { type: ChatType.CHAT_TYPE_GROUP, memberIds: [b.id], title: 'woken' },
        a.md,
      );
      await call(
        sys.client,
        sys.client.sendMessage,
        {
          chatId: chat?.chatId ?? '',
          clientMessageId: randomUUID(),
          text: 'now',
          replyToMessageId: '',
          attachmentIds: [],
        },
        a.md,
      );
      const got = await reader.until((u) => u.some((x) => x.messageCreated), 5000);
      expect(got.map((u) => u.chatCreated?.chatId ?? u.messageCreated?.text)).toEqual([chat?.chatId, 'now']);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await reader.cancel();
    }
  });
});
