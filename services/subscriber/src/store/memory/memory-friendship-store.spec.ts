import { friendshipStoreContract } from '../friendship-store.contract.ts';
import { MemoryFriendshipStore } from './memory-friendship-store.ts';

friendshipStoreContract('MemoryFriendshipStore', async () => ({
  store: new MemoryFriendshipStore(),
  close: async () => {},
}));
