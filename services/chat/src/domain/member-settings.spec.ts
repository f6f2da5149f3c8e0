import { randomUUID } from 'node:crypto';
import { DomainError, ErrorKind } from '@messenger/platform/domain';
import { chatEventEntry, settingsToProto } from '../events/chat-events.ts';
import { withEventEncoding } from '../store/chat-store.ts';
import { MemoryChatStore } from '../store/memory/memory-chat-store.ts';
import { MUTE_FOREVER, type Profile } from './chat.ts';
import { createChatUseCases } from './chat-use-cases.ts';

describe('member settings use cases', () => {
  const t0 = new Date('2025-05-01T00:00:00.000Z');
  let clock = t0;
  const chats = createChatUseCases({
    store: withEventEncoding(new MemoryChatStore(), chatEventEntry),
    users: {
      getProfiles: async (ids) =>
        new Map(
          ids.map((id): [string, Profile] => [
            id,
            { userId: id, nickname: `n${id.slice(0, 4)}`, avatarUrl: '', updateTime: t0 },
          ]),
        ),
    },
    friends: { relation: async () => ({ friends: true, blocked: false }), friendIds: async () => [] },
    now: () => clock,
  });
  const as = (userId: string) => ({ actor: { kind: 'user' as const, userId }, requestId: 'r' });
  const kindOf = (error: unknown) => (error instanceof DomainError ? error.kind : error);
  const [a, b, stranger] = [randomUUID(), randomUUID(), randomUUID()];

  it('changes only what is given, keeps the rest, and ends a timed mute by itself', async () => {
    const { chat } = await chats.createChat(as(a), { type: 'direct', memberIds: [b], title: '' });
    const until = new Date(t0.getTime() + 60_000);
    await expect(chats.updateChatSettings(as(a), chat.id, { mute: { until } })).resolves.toEqual({
      muteUntil: until,
      archived: false,
    });
    await expect(chats.updateChatSettings(as(a), chat.id, { archived: true })).resolves.toEqual({
      muteUntil: until,
      archived: true,
    });
    await expect(chats.updateChatSettings(as(a), chat.id, { mute: 'forever' })).resolves.toEqual({
      muteUntil: MUTE_FOREVER,
      archived: true,
    });
    await expect(chats.updateChatSettings(as(a), chat.id, { mute: 'unmute', archived: false })).resolves.toEqual({
      muteUntil: undefined,
      archived: false,
    });
    // A timed mute ends by itself; one with no end shows no end time.
    const timed = { muteUntil: until, archived: false };
    expect(settingsToProto(timed, t0)).toEqual({ muted: true, muteUntil: until, archived: false });
    expect(settingsToProto(timed, until)).toEqual({ muted: false, muteUntil: undefined, archived: false });
    expect(settingsToProto({ muteUntil: MUTE_FOREVER, archived: false }, until)).toEqual({
      muted: true,
      muteUntil: undefined,
      archived: false,
    });
    // The other member's view is untouched throughout.
    expect((await chats.getChat(as(b), chat.id)).settings).toEqual({ muteUntil: undefined, archived: false });
  });

  it('refuses a mute that is not in the future, an empty change and a non-member', async () => {
    const { chat } = await chats.createChat(as(a), { type: 'direct', memberIds: [b], title: '' });
    clock = new Date(t0.getTime() + 1000);
    const refused = (userId: string, change: Parameters<typeof chats.updateChatSettings>[2]) =>
      chats.updateChatSettings(as(userId), chat.id, change).then(
        () => 'changed',
        (error: unknown) => kindOf(error),
      );
    expect(await refused(a, { mute: { until: clock } })).toBe(ErrorKind.InvalidArgument);
    expect(await refused(a, {})).toBe(ErrorKind.InvalidArgument);
    expect(await refused(stranger, { archived: true })).toBe(ErrorKind.NotFound);
    expect((await chats.getChat(as(a), chat.id)).settings).toEqual({ muteUntil: undefined, archived: false });
  });
});
