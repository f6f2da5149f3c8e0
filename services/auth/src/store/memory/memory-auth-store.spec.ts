import { authStoreContract } from '../auth-store.contract.ts';
import { MemoryAuthStore } from './memory-auth-store.ts';

authStoreContract('MemoryAuthStore', async () => ({ store: new MemoryAuthStore(), close: async () => {} }));
