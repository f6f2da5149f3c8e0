import { randomUUID } from 'node:crypto';
import { userEventEntry } from '../events/user-events.ts';
import { MemoryUserStore } from '../store/memory/memory-user-store.ts';
import { withEventEncoding } from '../store/user-store.ts';
import { createUserUseCases } from './user-use-cases.ts';

describe('user use cases', () => {
  it('loses no update when two changes of one profile race', async () => {
    const store = new MemoryUserStore();
    const users = createUserUseCases({ store: withEventEncoding(store, userEventEntry) });
    const id = randomUUID();
    const meta = { actor: { kind: 'user' as const, userId: id, admin: false }, requestId: 'r' };
    await users.createUser(
      { actor: { kind: 'service', service: 'auth' }, requestId: 'r' },
      { userId: id, nickname: 'racer' },
    );
    const values = { nickname: 'racer', about: 'about me', avatarUrl: 'https://a.example/me.png' };
    // Both read version 1; the second write conflicts, re-reads and applies on top of the first.
    await Promise.all([
      users.updateUser(meta, { userId: id, paths: ['about'], values }),
      users.updateUser(meta, { userId: id, paths: ['avatar_url'], values }),
    ]);
    await expect(store.get(id)).resolves.toMatchObject({ ...values, version: 3 });
    const types = (await store.outbox.pendingEvents(10)).map((e) => e.envelope.type);
    expect(types).toEqual(['user.user.created', 'user.user.updated', 'user.user.updated']);
  });
});
