// The relay lease contract against every adapter: in memory always, MongoDB
// when MONGODB_URL names a server.
import { describeWithMongo } from '@messenger/platform/testing';
import { MongoRelayLease } from '../mongo/relay-lease.ts';
import { relayLeaseContract } from './relay-lease.contract.ts';
import { InMemoryRelayLease } from './relay-lease.ts';

relayLeaseContract('InMemoryRelayLease', async () => ({ lease: new InMemoryRelayLease(), close: async () => {} }));

describeWithMongo(
  'MongoRelayLease',
  (client, dbName) => new MongoRelayLease(client.db(dbName)),
  (freshStore) => {
    relayLeaseContract('MongoRelayLease', async () => {
      const { store, close } = await freshStore();
      return { lease: store, close };
    });
  },
);
