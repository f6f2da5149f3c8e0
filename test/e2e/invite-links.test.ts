// Invite links, end to end: the whole embedded system driven over HTTP
// through the gateway as a client would. An admin makes a link; a stranger
// previews the group and joins with the token, and every member sees it
// live; revoked, expired and used-up links all answer 404.
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import { type Account, Gateway } from './support/http.ts';
import { openUpdateStream, type UpdateStream } from './support/stream.ts';
import { SYSTEM_ENV } from './support/system.ts';

interface ChatJson {
  chatId: string;
  members: { userId: string; role: string }[];
}

interface CreatedInvite {
  invite: { inviteId: string; useLimit?: number; useCount?: number };
  token: string;
}

describe('invite links, whole system over HTTP', () => {
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

  const streamOf = async (who: Account) => {
    const stream = await openUpdateStream(system.gatewayUrl, who.accessToken);
    streams.push(stream);
    return stream;
  };
  /** A group owned by a new user, with a friend of theirs as an ordinary member. */
  const group = async () => {
    const [owner, member] = [await gw.register('own'), await gw.register('mem')];
    await gw.ok('POST', `/v1/friends/${member.userId}`, owner.accessToken, {});
    await gw.ok('POST', `/v1/friends/${owner.userId}/confirm`, member.accessToken, {});
    const created = await gw.ok('POST', '/v1/chats', owner.accessToken, {
      type: 'CHAT_TYPE_GROUP',
      title: 'climbing',
      memberIds: [member.userId],
    });
    return { owner, member, chatId: (created.chat as ChatJson).chatId };
  };
  const createLink = async (by: Account, chatId: string, body: Record<string, unknown> = {}) =>
    (await gw.ok('POST', `/v1/chats/${chatId}/invites`, by.accessToken, body)) as unknown as CreatedInvite;
  const statusOf = async (res: Promise<{ status: number; body: Record<string, unknown> }>) => {
    const { status, body } = await res;
    return [status, body.code];
  };
  const preview = (who: Account, token: string) =>
    gw.request('POST', '/v1/chat-invites:preview', who.accessToken, { token });
  const join = (who: Account, token: string) => gw.request('POST', '/v1/chat-invites:join', who.accessToken, { token });

  it('lets a stranger preview and join with the token; both streams see the new member and the system message', async () => {
    const { owner, member, chatId } = await group();
    const stranger = await gw.register('str');
    const [memberStream, strangerStream] = [await streamOf(member), await streamOf(stranger)];

    // An ordinary member may not make links; the owner may.
    expect(await statusOf(gw.request('POST', `/v1/chats/${chatId}/invites`, member.accessToken, {}))).toEqual([403, 7]);
    const { invite, token } = await createLink(owner, chatId, { useLimit: 5 });
    expect(token).toMatch(/^[A-Za-z0-9_-]{22}$/);

    const seen = await gw.ok('POST', '/v1/chat-invites:preview', stranger.accessToken, { token });
    expect(seen).toMatchObject({ chatId, title: 'climbing', memberCount: 2 });
    expect(seen).not.toHaveProperty('members');

    const joined = (await gw.ok('POST', '/v1/chat-invites:join', stranger.accessToken, { token })).chat as ChatJson;
    expect(joined.members.map((m) => [m.userId, m.role])).toContainEqual([stranger.userId, 'CHAT_MEMBER_ROLE_MEMBER']);

    for (const stream of [memberStream, strangerStream]) {
      const added = await stream.next('memberAdded', (u) => u.memberAdded !== undefined);
      expect(added.memberAdded).toMatchObject({ userIds: [stranger.userId], addedById: stranger.userId });
    }
    const notice = await memberStream.next(
      'the system message',
      (u) => (u.messageCreated as { system?: unknown } | undefined)?.system !== undefined,
    );
    expect(notice.messageCreated).toMatchObject({
      senderId: stranger.userId,
      system: { kind: 'SYSTEM_EVENT_KIND_JOINED_BY_LINK', actorId: stranger.userId, targetUserIds: [owner.userId] },
    });

    // Now a member: they post, and joining again uses nothing.
    await gw.ok('POST', `/v1/chats/${chatId}/messages`, stranger.accessToken, {
      clientMessageId: crypto.randomUUID(),
      text: 'hello all',
    });
    await gw.ok('POST', '/v1/chat-invites:join', stranger.accessToken, { token });
    const listed = await gw.ok('GET', `/v1/chats/${chatId}/invites`, owner.accessToken);
    expect(listed.invites).toMatchObject([{ inviteId: invite.inviteId, creatorId: owner.userId, useCount: 1 }]);
    // The token is never shown again, nor anything it could be derived from.
    expect(JSON.stringify(listed)).not.toContain(token);
    expect(JSON.stringify(listed)).not.toMatch(/hash/i);
    expect(await statusOf(gw.request('GET', `/v1/chats/${chatId}/invites`, member.accessToken))).toEqual([403, 7]);
  }, 30_000);

  it('answers 404 alike for revoked, expired, used-up and unknown links', async () => {
    const { owner, chatId } = await group();
    const [a, b] = [await gw.register('a'), await gw.register('b')];

    const revoked = await createLink(owner, chatId);
    await gw.ok('DELETE', `/v1/chats/${chatId}/invites/${revoked.invite.inviteId}`, owner.accessToken);
    const again = gw.request('DELETE', `/v1/chats/${chatId}/invites/${revoked.invite.inviteId}`, owner.accessToken);
    expect(await statusOf(again)).toEqual([404, 5]);

    const once = await createLink(owner, chatId, { useLimit: 1 });
    await gw.ok('POST', '/v1/chat-invites:join', a.accessToken, { token: once.token });

    const expiring = await createLink(owner, chatId, { expireTime: new Date(Date.now() + 1000).toISOString() });
    expect((await preview(b, expiring.token)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1100));

    for (const token of [revoked.token, once.token, expiring.token, 'AAAAAAAAAAAAAAAAAAAAAA']) {
      expect(await statusOf(preview(b, token))).toEqual([404, 5]);
      expect(await statusOf(join(b, token))).toEqual([404, 5]);
    }
    const members = ((await gw.ok('GET', `/v1/chats/${chatId}`, owner.accessToken)).chat as ChatJson).members;
    expect(members.map((m) => m.userId)).not.toContain(b.userId);
  }, 30_000);

  it('lets exactly one of two racing joins take the last use', async () => {
    const { owner, chatId } = await group();
    const [a, b] = [await gw.register('a'), await gw.register('b')];
    const { token } = await createLink(owner, chatId, { useLimit: 1 });
    const statuses = (await Promise.all([join(a, token), join(b, token)])).map((r) => r.status);
    expect(statuses.sort()).toEqual([200, 404]);
    const members = ((await gw.ok('GET', `/v1/chats/${chatId}`, owner.accessToken)).chat as ChatJson).members;
    expect(members).toHaveLength(3);
  }, 30_000);

  it('refuses bad values with the field they concern', async () => {
    const { owner, chatId } = await group();
    const bad = async (path: string, body: Record<string, unknown>) => {
      const res = await gw.request('POST', path, owner.accessToken, body);
      const details = (res.body.details ?? []) as { fieldViolations?: { field: string }[] }[];
      return [res.status, details.flatMap((d) => d.fieldViolations ?? []).map((v) => v.field)];
    };
    const past = new Date(Date.now() - 1000).toISOString();
    const far = new Date(Date.now() + 31 * 24 * 60 * 60 * 1000).toISOString();
    expect(await bad(`/v1/chats/${chatId}/invites`, { expireTime: past })).toEqual([400, ['expire_time']]);
    expect(await bad(`/v1/chats/${chatId}/invites`, { expireTime: far })).toEqual([400, ['expire_time']]);
    expect(await bad(`/v1/chats/${chatId}/invites`, { useLimit: -1 })).toEqual([400, ['use_limit']]);
    expect(await bad('/v1/chat-invites:join', { token: 'short' })).toEqual([400, ['token']]);
    expect(await bad('/v1/chat-invites:preview', {})).toEqual([400, ['token']]);
  }, 30_000);
});

describe('invite link tokens under the strict rate limit', () => {
  let system: RunningSystem;
  let gw: Gateway;
  beforeAll(async () => {
    system = await startSystem(loadEmbeddedConfig({ ...SYSTEM_ENV, GATEWAY_RATE_LIMIT_STRICT_PER_MINUTE: '3' }));
    gw = new Gateway(system.gatewayUrl);
  }, 60_000);
  afterAll(async () => {
    await system?.stop();
  });

  it('answers 429 once a user has spent the strict budget guessing tokens', async () => {
    const guesser = await gw.register('guess');
    const guess = (i: number) =>
      gw.request('POST', '/v1/chat-invites:join', guesser.accessToken, { token: `${i}`.padStart(22, 'A') });
    for (let i = 0; i < 3; i++) expect((await guess(i)).status).toBe(404);
    const limited = await guess(3);
    expect([limited.status, limited.body.code]).toEqual([429, 8]);
  });
});
