import { setTimeout as sleep } from 'node:timers/promises';
import type { Chat } from './chat.ts';
import { pacedReadReceipts, type ReadReceipt } from './read-receipts.ts';

const chatOf = (type: Chat['type']) => ({ id: `${type}-chat`, type }) as Chat;
const receipt = (chat: Chat, userId: string, readSequence: number): ReadReceipt => ({
  chatId: chat.id,
  userId,
  readSequence,
  time: new Date(),
  recipientIds: ['other'],
});

describe('pacedReadReceipts', () => {
  const published: ReadReceipt[] = [];
  const sender = pacedReadReceipts(
    {
      async publish(r) {
        published.push(r);
      },
    },
    30,
  );
  afterEach(() => {
    sender.close();
    published.length = 0;
  });
  const positions = () => published.map((r) => `${r.chatId} ${r.userId} ${r.readSequence}`);
  const until = async (count: number) => {
    for (let i = 0; i < 500 && published.length < count; i++) await sleep(10);
  };

  it('passes on every move in a direct chat at once', () => {
    const direct = chatOf('direct');
    for (const n of [1, 2, 3]) sender.moved(direct, receipt(direct, 'ann', n));
    expect(positions()).toEqual(['direct-chat ann 1', 'direct-chat ann 2', 'direct-chat ann 3']);
  });

  it('in a group, passes on the first move at once and then only the highest one held, per reader', async () => {
    const group = chatOf('group');
    sender.moved(group, receipt(group, 'ann', 1));
    sender.moved(group, receipt(group, 'bob', 4));
    sender.moved(group, receipt(group, 'ann', 3));
    sender.moved(group, receipt(group, 'ann', 2));
    // Each reader's first move went out at once; ann's later ones are held.
    expect(positions()).toEqual(['group-chat ann 1', 'group-chat bob 4']);
    await until(3);
    expect(positions()).toEqual(['group-chat ann 1', 'group-chat bob 4', 'group-chat ann 3']);
  });
});
