import { userStoreContract } from '../user-store.contract.ts';
import { MemoryUserStore } from './memory-user-store.ts';

userStoreContract('MemoryUserStore', async () => ({ store: new MemoryUserStore(), close: async () => {} }));
