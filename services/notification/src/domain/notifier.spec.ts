// Who is told about a new message, through the two seams the chat service
// will fill: presence (online members get no push) and member preferences
// (a muted chat is silent until the mute ends, unless the message mentions
// the member).
import { randomUUID } from 'node:crypto';
import { createLogger } from '@messenger/platform/logger';
import { MemoryDeviceStore } from '../store/memory/memory-device-store.ts';
import { createNotifier, type NewMessage } from './notifier.ts';
import { type Mute, NOBODY_KNOWN_ONLINE } from './ports.ts';

const [sender, ann, bob, cat, dan] = ['sender', 'ann', 'bob', 'cat', 'dan'];
const sentAt = new Date('2025-06-01T12:00:00Z');
const message = (over: Partial<NewMessage> = {}): NewMessage => ({
  eventId: randomUUID(),
  chatId: 'chat',
  senderId: sender,
  sequence: '1',
  memberIds: [sender, ann, bob, cat, dan],
  mentionedIds: [],
  sentAt,
  ...over,
});
const notifierWith = (online: string[], mutes: Record<string, Mute>) =>
  createNotifier({
    store: new MemoryDeviceStore(),
    senders: {},
    presence: { onlineAmong: async (ids) => new Set(ids.filter((id) => online.includes(id))) },
    preferences: { mutesOf: async () => new Map(Object.entries(mutes)) },
    coalesceWindowMs: 0,
    log: createLogger({ level: 'silent', service: 'notification' }),
  });

describe('notifier recipients', () => {
  it('tells every member but the sender while presence is not published and nobody muted the chat', async () => {
    const notifier = createNotifier({
      store: new MemoryDeviceStore(),
      senders: {},
      presence: NOBODY_KNOWN_ONLINE,
      preferences: { mutesOf: async () => new Map() },
      coalesceWindowMs: 0,
      log: createLogger({ level: 'silent', service: 'notification' }),
    });
    expect(await notifier.recipientsOf(message({ memberIds: [sender, ann, ann, bob] }))).toEqual([ann, bob]);
  });

  it('leaves out online members and members whose mute has not ended, unless mentioned', async () => {
    const notifier = notifierWith([ann], {
      bob: { until: null },
      cat: { until: new Date(sentAt.getTime() + 60_000) },
      dan: { until: new Date(sentAt.getTime() - 1) },
    });
    expect(await notifier.recipientsOf(message())).toEqual([dan]);
    expect(await notifier.recipientsOf(message({ mentionedIds: [bob, cat, ann] }))).toEqual([bob, cat, dan]);
  });
});
