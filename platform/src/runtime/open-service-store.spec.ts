import { loadConfig } from '../config.ts';
import { grpcServiceSettings, openServiceStore } from './service-runtime.ts';

const settings = grpcServiceSettings('chat', 50053, 'chats');

/** Opens the configured store with an opener that records what it was given instead of connecting. */
async function openedWith(env: Record<string, string>): Promise<unknown[]> {
  let given: unknown[] = [];
  await openServiceStore(
    loadConfig(settings, { CHAT_STORE: 'mongo', ...env }),
    async (...args) => {
      given = args;
      return { store: {}, close: async () => {} };
    },
    class {},
  );
  return given;
}

describe('openServiceStore with CHAT_STORE=mongo', () => {
  it('gives the MongoDB client a 5 s server selection timeout, not the driver default of 30 s', async () => {
    const [, , options] = await openedWith({});
    expect(options).toEqual({ serverSelectionTimeoutMS: 5000 });
  });

  it('hands CHAT_MONGODB_SERVER_SELECTION_TIMEOUT_MS to the MongoDB client with the URL and database', async () => {
    const given = await openedWith({
      CHAT_MONGODB_URL: 'mongodb://db.example:27017/?replicaSet=rs0',
      CHAT_MONGODB_DATABASE: 'chat2',
      CHAT_MONGODB_SERVER_SELECTION_TIMEOUT_MS: '250',
    });
    expect(given).toEqual(['mongodb://db.example:27017/?replicaSet=rs0', 'chat2', { serverSelectionTimeoutMS: 250 }]);
  });
});
