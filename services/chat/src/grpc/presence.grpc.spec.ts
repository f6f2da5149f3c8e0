// The internal presence calls over real gRPC: GetOnlineUsers (for the
// notification service) and the subscriber's ListFriendIds that presence
// fan-out reads, each admitting only the service named in its policy.
import { status } from '@grpc/grpc-js';
import { PresencePrivacy } from '@messenger/gen/messenger/chat/v1/chat';
import { call, failure } from '@messenger/platform/testing';
import { type ChatTestSystem, readUpdates, startChatTestSystem } from '../testing/chat-test-system.ts';

describe('presence over gRPC', () => {
  let sys: ChatTestSystem;
  beforeAll(async () => {
    sys = await startChatTestSystem({ heartbeatIntervalMs: 50 });
  });
  afterAll(async () => {
    await sys.stop();
  });
  const as = async (service: string) => sys.auth.bearer(await sys.auth.serviceToken(service));

  it('GetOnlineUsers tells the notification service who holds a stream, whatever their privacy setting', async () => {
    const [a, b] = [await sys.newUser(), await sys.newUser()];
    await call(sys.client, sys.client.setPresencePrivacy, { privacy: PresencePrivacy.PRESENCE_PRIVACY_NOBODY }, a.md);
    const stream = await readUpdates(sys.client, a.md).ready();
    await expect(
      call(sys.client, sys.client.getOnlineUsers, { userIds: [b.id, a.id] }, await as('notification')),
    ).resolves.toEqual({ onlineUserIds: [a.id] });
    await stream.cancel();
  });

  it('GetOnlineUsers refuses other services and users, and bad lists', async () => {
    const [a] = [await sys.newUser()];
    for (const md of [await as('chat'), a.md]) {
      const error = await failure(call(sys.client, sys.client.getOnlineUsers, { userIds: [a.id] }, md));
      expect(error.code).toBe(status.PERMISSION_DENIED);
    }
    const notification = await as('notification');
    for (const userIds of [[], ['nope']]) {
      const error = await failure(call(sys.client, sys.client.getOnlineUsers, { userIds }, notification));
      expect(error.code).toBe(status.INVALID_ARGUMENT);
    }
  });

  it('ListFriendIds pages through a user’s confirmed friends for chat only', async () => {
    const [a, b, c, d] = [await sys.newUser(), await sys.newUser(), await sys.newUser(), await sys.newUser()];
    await sys.befriend(a, b);
    await sys.befriend(c, a);
    await call(sys.friends, sys.friends.makeFriend, { userId: d.id }, a.md); // pending: not a friend
    const chat = await as('chat');
    const first = await call(
      sys.friends,
      sys.friends.listFriendIds,
      { userId: a.id, pageSize: 1, pageToken: '' },
      chat,
    );
    expect(first.userIds).toHaveLength(1);
    const second = await call(
      sys.friends,
      sys.friends.listFriendIds,
      { userId: a.id, pageSize: 1, pageToken: first.nextPageToken },
      chat,
    );
    expect([...first.userIds, ...second.userIds].sort()).toEqual([b.id, c.id].sort());
    expect(second.nextPageToken).toBe('');
    for (const md of [await as('notification'), a.md]) {
      const error = await failure(
        call(sys.friends, sys.friends.listFriendIds, { userId: a.id, pageSize: 0, pageToken: '' }, md),
      );
      expect(error.code).toBe(status.PERMISSION_DENIED);
    }
  });
});
