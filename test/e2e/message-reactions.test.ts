// Emoji reactions on messages, end to end: the whole embedded system driven
// over HTTP through the gateway by two members of a direct chat (and one
// outsider). Counts and "reacted by me" on every read, idempotent add and
// remove, the other member's live update on the SSE stream, and typed
// refusals of bad input.
import { randomUUID } from 'node:crypto';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import { type Account, Gateway } from './support/http.ts';
import { openUpdateStream, type UpdateStream } from './support/stream.ts';
import { SYSTEM_ENV } from './support/system.ts';

interface ReactionJson {
  emoji: string;
  count: number;
  reactedByMe: boolean;
}
interface MessageJson {
  messageId: string;
  reactions: ReactionJson[];
}
interface StatusJson {
  code: number;
  details?: { '@type': string; reason?: string; fieldViolations?: { field: string }[] }[];
}

describe('message reactions, whole system over HTTP', () => {
  let system: RunningSystem;
  let gw: Gateway;
  const streams: UpdateStream[] = [];
  let ann: Account;
  let bob: Account;
  let chatId: string;

  beforeAll(async () => {
    system = await startSystem(loadEmbeddedConfig(SYSTEM_ENV));
    gw = new Gateway(system.gatewayUrl);
    [ann, bob] = [await gw.register('ann'), await gw.register('bob')];
    await gw.ok('POST', `/v1/friends/${bob.userId}`, ann.accessToken, {});
    await gw.ok('POST', `/v1/friends/${ann.userId}/confirm`, bob.accessToken, {});
    const created = await gw.ok('POST', '/v1/chats', ann.accessToken, {
      type: 'CHAT_TYPE_DIRECT',
      memberIds: [bob.userId],
    });
    chatId = (created.chat as { chatId: string }).chatId;
  }, 60_000);

  afterAll(async () => {
    for (const s of streams) await s.close();
    await system?.stop();
  });

  const post = async (who: Account, text: string) =>
    (
      await gw.ok('POST', `/v1/chats/${chatId}/messages`, who.accessToken, {
        clientMessageId: randomUUID(),
        text,
      })
    ).message as MessageJson;
  const path = (messageId: string, emoji: string, chat = chatId) =>
    `/v1/chats/${chat}/messages/${messageId}/reactions/${encodeURIComponent(emoji)}`;
  const react = (who: Account, messageId: string, emoji: string, method: 'PUT' | 'DELETE' = 'PUT') =>
    gw.request(method, path(messageId, emoji), who.accessToken);
  const reactionsOf = async (who: Account, method: 'PUT' | 'DELETE', messageId: string, emoji: string) => {
    const res = await react(who, messageId, emoji, method);
    expect(res.status).toBe(200);
    return (res.body.message as MessageJson).reactions;
  };

  it('counts reactions per emoji with "reacted by me" on every read, and the other member sees each change live', async () => {
    const message = await post(ann, 'lunch?');
    expect(message.reactions).toEqual([]);
    const bobStream = await openUpdateStream(system.gatewayUrl, bob.accessToken);
    streams.push(bobStream);

    expect(await reactionsOf(ann, 'PUT', message.messageId, '👍')).toEqual([
      { emoji: '👍', count: 1, reactedByMe: true },
    ]);
    const live = await bobStream.next('reactionChanged', (u) => 'reactionChanged' in u);
    expect(live.reactionChanged).toMatchObject({
      userId: ann.userId,
      emoji: '👍',
      added: true,
      message: { messageId: message.messageId, reactions: [{ emoji: '👍', count: 1, reactedByMe: false }] },
    });
    expect(live.updateId).not.toBe('');

    // A flag, a skin tone and a joined family are emoji too; a second 👍 from Bob counts, a repeat does not.
    await reactionsOf(bob, 'PUT', message.messageId, '👍');
    await reactionsOf(bob, 'PUT', message.messageId, '🇺🇦');
    await reactionsOf(bob, 'PUT', message.messageId, '👋🏽');
    expect(await reactionsOf(bob, 'PUT', message.messageId, '👨‍👩‍👧')).toEqual([
      { emoji: '👍', count: 2, reactedByMe: true },
      { emoji: '🇺🇦', count: 1, reactedByMe: true },
      { emoji: '👋🏽', count: 1, reactedByMe: true },
      { emoji: '👨‍👩‍👧', count: 1, reactedByMe: true },
    ]);
    expect((await reactionsOf(bob, 'PUT', message.messageId, '👍'))[0]).toEqual({
      emoji: '👍',
      count: 2,
      reactedByMe: true,
    });

    // Each reader sees their own: Ann reacted only with 👍.
    const annPage = await gw.ok('GET', `/v1/chats/${chatId}/messages`, ann.accessToken);
    expect((annPage.messages as MessageJson[])[0]?.reactions.map((r) => [r.emoji, r.count, r.reactedByMe])).toEqual([
      ['👍', 2, true],
      ['🇺🇦', 1, false],
      ['👋🏽', 1, false],
      ['👨‍👩‍👧', 1, false],
    ]);
    const annGet = await gw.ok('GET', `/v1/chats/${chatId}/messages/${message.messageId}`, ann.accessToken);
    expect((annGet.message as MessageJson).reactions[0]).toEqual({ emoji: '👍', count: 2, reactedByMe: true });

    // Removing: the count drops, an emoji no one has leaves, removing again changes nothing.
    expect((await reactionsOf(ann, 'DELETE', message.messageId, '👍'))[0]).toEqual({
      emoji: '👍',
      count: 1,
      reactedByMe: false,
    });
    expect((await reactionsOf(ann, 'DELETE', message.messageId, '👍'))[0]?.count).toBe(1);
    const removed = await reactionsOf(bob, 'DELETE', message.messageId, '🇺🇦');
    expect(removed.map((r) => r.emoji)).toEqual(['👍', '👋🏽', '👨‍👩‍👧']);
    await bobStream.next(
      'reactionChanged (removed)',
      (u) =>
        (u.reactionChanged as { added?: boolean; userId?: string } | undefined)?.userId === ann.userId &&
        (u.reactionChanged as { added?: boolean }).added === false,
    );
  });

  it('refuses bad emoji, unknown messages, outsiders, deleted messages and a 21st distinct emoji with typed errors', async () => {
    const message = await post(bob, 'react to me');
    for (const bad of ['ok', '1', '👍 ', 'a👍', '👍'.repeat(17)]) {
      const res = await react(ann, message.messageId, bad);
      expect(res.status).toBe(400);
      const status = res.body as unknown as StatusJson;
      expect(status.code).toBe(3);
      expect(status.details?.flatMap((d) => d.fieldViolations ?? []).map((v) => v.field)).toEqual(['emoji']);
    }
    const unknown = await react(ann, randomUUID(), '👍');
    expect(unknown.status).toBe(404);
    const cat = await gw.register('cat');
    const outsider = await gw.request('PUT', path(message.messageId, '👍'), cat.accessToken);
    expect(outsider.status).toBe(404);
    expect(await gw.request('PUT', path(message.messageId, '👍', randomUUID()), ann.accessToken)).toMatchObject({
      status: 404,
    });

    const faces = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗🤩'];
    for (const face of faces.slice(0, 20)) await reactionsOf(ann, 'PUT', message.messageId, face);
    const limited = await react(bob, message.messageId, faces[20] as string);
    expect(limited.status).toBe(400);
    expect(limited.body).toMatchObject({ code: 9 });
    expect(JSON.stringify(limited.body)).toContain('REACTION_LIMIT');
    // One already there still takes more.
    expect((await reactionsOf(bob, 'PUT', message.messageId, faces[0] as string))[0]?.count).toBe(2);

    await gw.ok('DELETE', `/v1/chats/${chatId}/messages/${message.messageId}`, bob.accessToken);
    const tombstone = await gw.ok('GET', `/v1/chats/${chatId}/messages/${message.messageId}`, ann.accessToken);
    expect((tombstone.message as MessageJson).reactions).toEqual([]);
    const onDeleted = await react(ann, message.messageId, '👍');
    expect(onDeleted.status).toBe(400);
    expect(onDeleted.body).toMatchObject({ code: 9 });
  });
});
