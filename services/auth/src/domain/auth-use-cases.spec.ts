import { ErrorKind } from '@messenger/platform/domain';
import { createLogger } from '@messenger/platform/logger';
import { createTestAuth, type TestAuth } from '@messenger/platform/testing';
import { authEventEntry } from '../events/auth-events.ts';
import { withEventEncoding } from '../store/auth-store.ts';
import { MemoryAuthStore } from '../store/memory/memory-auth-store.ts';
import { userServiceUnavailable } from './auth-errors.ts';
import { createAuthUseCases } from './auth-use-cases.ts';
import { createScryptHasher } from './password-hasher.ts';
import { createServiceSecrets } from './secrets.ts';
import { createSessions } from './sessions.ts';
import type { Profile, UserProfiles } from './user-profiles.ts';

/** An in-memory user service that can be made to fail. */
function fakeProfiles() {
  const profiles = new Map<string, Profile>();
  const state = { down: false };
  const port: UserProfiles = {
    async create(userId, nickname) {
      if (state.down) throw userServiceUnavailable();
      const time = new Date();
      const profile = { id: userId, nickname, about: '', avatarUrl: '', createTime: time, updateTime: time };
      profiles.set(userId, profile);
      return profile;
    },
    async get(userId) {
      return profiles.get(userId);
    },
  };
  return { port, state, profiles };
}

describe('auth use cases', () => {
  let auth: TestAuth;
  beforeAll(async () => {
    auth = await createTestAuth();
  });
  afterAll(() => auth.close());

  const build = async (adapter: MemoryAuthStore, users: UserProfiles) => {
    const store = withEventEncoding(adapter, authEventEntry);
    const logger = createLogger({ level: 'silent', service: 'auth' });
    const now = () => new Date();
    const sessions = createSessions({
      store,
      signer: auth.signer,
      revocations: auth.revocations,
      lifetimes: { accessTokenSeconds: 900, refreshTokenSeconds: 86400, serviceTokenSeconds: 600 },
      maxSessionsPerUser: 50,
      logger,
      now,
    });
    return createAuthUseCases({
      sessions,
      store,
      users,
      hasher: await createScryptHasher({ logN: 10, r: 8, p: 1 }),
      signer: auth.signer,
      serviceSecrets: createServiceSecrets(new Map()),
      serviceTokenSeconds: 600,
      logger,
      now,
    });
  };
  const input = { email: 'ann@example.com', password: 'long enough', nickname: 'ann' };

  it('strands no email when the profile cannot be created', async () => {
    const store = new MemoryAuthStore();
    const profiles = fakeProfiles();
    const useCases = await build(store, profiles.port);
    profiles.state.down = true;
    await expect(useCases.register('r1', input)).rejects.toMatchObject({ kind: ErrorKind.Unavailable });
    await expect(store.findAccountByEmail('ann@example.com')).resolves.toBeUndefined();
    expect(store.outbox.size).toBe(0);
    profiles.state.down = false;
    const signedIn = await useCases.register('r2', input);
    expect(signedIn.user.nickname).toBe('ann');
  });

  it('does not sign in an account whose profile is gone', async () => {
    const store = new MemoryAuthStore();
    const profiles = fakeProfiles();
    const useCases = await build(store, profiles.port);
    const registered = await useCases.register('r1', input);
    profiles.profiles.delete(registered.user.id);
    await expect(useCases.login('r2', { email: input.email, password: input.password })).rejects.toMatchObject({
      kind: ErrorKind.Unauthenticated,
      reason: 'INVALID_CREDENTIALS',
    });
  });
});
