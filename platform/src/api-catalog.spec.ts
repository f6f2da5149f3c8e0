import { getOption, hasOption } from '@bufbuild/protobuf';
import { Access } from '@messenger/gen/messenger/options/v1/options';
import { type ApiCatalog, loadMessengerCatalog } from './api-catalog.ts';

// Checks the generated contracts (gen/descriptor.binpb) against the rules the
// gateway and the services rely on.
describe('messenger API catalog', () => {
  let catalog: ApiCatalog;
  beforeAll(async () => {
    catalog = await loadMessengerCatalog();
  });

  const promised: Record<string, string[]> = {
    'messenger.user.v1.UserService': ['CreateUser', 'GetUser', 'UpdateUser', 'SearchUsers', 'DeleteUser'],
    'messenger.auth.v1.AuthService': [
      'Register',
      'Login',
      'Logout',
      'RefreshToken',
      'StartOAuth',
      'CompleteOAuth',
      'GetJwks',
    ],
    'messenger.subscriber.v1.SubscriberService': [
      'MakeFriend',
      'ConfirmFriend',
      'DeclineFriend',
      'Unfriend',
      'ListFriends',
    ],
    'messenger.chat.v1.ChatService': [
      'CreateChat',
      'ListChats',
      'SendMessage',
      'GetMessage',
      'ListMessages',
      'StreamUpdates',
    ],
  };

  it('has every RPC the product promises', () => {
    for (const [service, methods] of Object.entries(promised)) {
      for (const m of methods) expect(catalog.method(`/${service}/${m}`)).toBeDefined();
    }
  });

  it('declares a policy on every RPC', () => {
    const undeclared = [...catalog.methods()].filter((m) => !m.policyDeclared).map((m) => m.path);
    expect(undeclared).toEqual([]);
  });

  it('routes every non-internal RPC over HTTP and no internal one', () => {
    const http = catalog.registry.getExtension('google.api.http');
    expect(http).toBeDefined();
    if (!http) return;
    for (const m of catalog.methods()) {
      const routed = hasOption(m.descriptor, http);
      const internal = m.access === Access.ACCESS_INTERNAL || m.access === Access.ACCESS_INTERNAL_BOOTSTRAP;
      expect({ path: m.path, routed }).toEqual({ path: m.path, routed: !internal });
    }
  });

  it('reads access, retry safety, caching and rate-limit class from the options', () => {
    const login = catalog.method('/messenger.auth.v1.AuthService/Login');
    expect(login?.access).toBe(Access.ACCESS_PUBLIC);
    expect(login?.idempotent).toBe(false);
    const getUser = catalog.method('/messenger.user.v1.UserService/GetUser');
    expect(getUser?.idempotent).toBe(true);
    expect(getUser?.cache?.ttlSeconds).toBeGreaterThan(0);
    expect(getUser?.cache?.invalidatedBy).toContain('user.user.updated');
    const createUser = catalog.method('/messenger.user.v1.UserService/CreateUser');
    expect(createUser?.access).toBe(Access.ACCESS_INTERNAL);
    expect(createUser?.callers).toEqual(['auth']);
    expect(catalog.method('/messenger.user.v1.UserService/BatchGetUsers')?.callers).toEqual(['chat', 'subscriber']);
    expect(catalog.method('/messenger.subscriber.v1.SubscriberService/CheckFriendship')?.callers).toEqual(['chat']);
    // An internal method without callers would admit no service at all.
    for (const m of catalog.methods()) {
      if (m.access === Access.ACCESS_INTERNAL) expect([m.path, m.callers.length > 0]).toEqual([m.path, true]);
    }
    const http = catalog.registry.getExtension('google.api.http');
    if (!http || !getUser) throw new Error('missing');
    expect(getOption(getUser.descriptor, http)).toMatchObject({
      pattern: { case: 'get', value: '/v1/users/{user_id}' },
    });
  });
});
