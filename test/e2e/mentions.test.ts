// Mentions, end to end: the whole embedded system driven over HTTP through
// the gateway with three users in a group. `@nickname` of a member and
// `@all` come back as entities on every read and live, each member's chat
// list counts the unread messages that mention them, and MarkRead clears it.
import { randomUUID } from 'node:crypto';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import { type Account, Gateway } from './support/http.ts';
import { openUpdateStream, type UpdateStream } from './support/stream.ts';
import { SYSTEM_ENV } from './support/system.ts';

interface EntityJson {
  offset: number;
  length: number;
  type: string;
  userId?: string;
}
interface MessageJson {
  messageId: string;
  sequence: string;
  text: string;
  entities?: EntityJson[];
}
interface SummaryJson {
  chat: { chatId: string };
  unreadCount: string;
  unreadMentionCount: string;
}

describe('mentions, whole system over HTTP', () => {
  let system: RunningSystem;
  let gw: Gateway;
  const streams: UpdateStream[] = [];

  beforeAll(async () => {
    system = await startSystem(loadEmbeddedConfig(SYSTEM_ENV));
    gw = new Gateway(system.gatewayUrl);
  }, 60_000);

  afterAll(async () => {
    for (const s of streams) await s.close();
    await system?.stop();
  });

  const befriend = async (a: Account, b: Account) => {
    await gw.ok('POST', `/v1/friends/${b.userId}`, a.accessToken, {});
    await gw.ok('POST', `/v1/friends/${a.userId}/confirm`, b.accessToken, {});
  };
  const send = async (who: Account, chatId: string, text: string) =>
    (await gw.ok('POST', `/v1/chats/${chatId}/messages`, who.accessToken, { clientMessageId: randomUUID(), text }))
      .message as MessageJson;
  const summaryOf = async (who: Account, chatId: string) => {
    const chats = (await gw.ok('GET', '/v1/chats', who.accessToken)).chats as SummaryJson[];
    const summary = chats.find((c) => c.chat.chatId === chatId);
    const single = await gw.ok('GET', `/v1/chats/${chatId}`, who.accessToken);
    // GetChat reports the same counts as the list.
    expect([single.unreadCount, single.unreadMentionCount]).toEqual([
      summary?.unreadCount,
      summary?.unreadMentionCount,
    ]);
    return [Number(summary?.unreadCount), Number(summary?.unreadMentionCount)];
  };

  it('stores mentions as entities, counts each member’s unread mentions and clears them on read', async () => {
    const [ann, bob, cat] = [await gw.register('ann'), await gw.register('bob'), await gw.register('cat')];
    await befriend(ann, bob);
    await befriend(ann, cat);
    const created = await gw.ok('POST', '/v1/chats', ann.accessToken, {
      type: 'CHAT_TYPE_GROUP',
      title: 'team',
      memberIds: [bob.userId, cat.userId],
    });
    const chatId = (created.chat as { chatId: string }).chatId;
    const bobStream = await openUpdateStream(system.gatewayUrl, bob.accessToken);
    streams.push(bobStream);

    // An emoji before the mention: offsets count code points, not UTF-16 units.
    const text = `🎉 @${bob.nickname.toUpperCase()}, see ${ann.email} and @nobody_here`;
    const first = await send(ann, chatId, text);
    const bobEntity = {
      offset: 2,
      length: bob.nickname.length + 1,
      type: 'MESSAGE_ENTITY_TYPE_MENTION',
      userId: bob.userId,
    };
    expect(first.entities).toEqual([bobEntity]);
    const live = await bobStream.next(
      'messageCreated',
      (u) => (u.messageCreated as MessageJson | undefined)?.messageId === first.messageId,
    );
    expect((live.messageCreated as MessageJson).entities).toEqual([bobEntity]);

    await send(cat, chatId, 'no mention here');
    const everyone = await send(cat, chatId, 'meeting @all');
    expect(everyone.entities).toEqual([{ offset: 8, length: 4, type: 'MESSAGE_ENTITY_TYPE_MENTION_ALL', userId: '' }]);

    // Entities come back on every read, as stored.
    const history = (await gw.ok('GET', `/v1/chats/${chatId}/messages`, cat.accessToken)).messages as MessageJson[];
    expect(history.map((m) => m.entities ?? [])).toEqual([everyone.entities, [], [bobEntity]]);

    // Bob: three unread, two mention him. Cat: one unread (Ann's), no mention of her
    // (her own @all does not count). Ann: two unread, one mention (@all).
    expect(await summaryOf(bob, chatId)).toEqual([3, 2]);
    expect(await summaryOf(cat, chatId)).toEqual([1, 0]);
    expect(await summaryOf(ann, chatId)).toEqual([2, 1]);

    // An edit that mentions Cat counts for her; an edit is parsed again.
    await gw.ok('PATCH', `/v1/chats/${chatId}/messages/${first.messageId}`, ann.accessToken, {
      text: `@${cat.nickname} and @${bob.nickname}`,
    });
    expect(await summaryOf(cat, chatId)).toEqual([1, 1]);

    // Reading up to the first message clears that mention only; reading everything clears all.
    const read = await gw.ok('POST', `/v1/chats/${chatId}/read`, bob.accessToken, { upToSequence: first.sequence });
    expect([read.unreadCount, read.unreadMentionCount]).toEqual(['2', '1']);
    expect(await summaryOf(bob, chatId)).toEqual([2, 1]);
    await gw.ok('POST', `/v1/chats/${chatId}/read`, bob.accessToken, { upToSequence: everyone.sequence });
    expect(await summaryOf(bob, chatId)).toEqual([0, 0]);
  }, 30_000);
});
