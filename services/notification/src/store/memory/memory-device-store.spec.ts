import { deviceStoreContract } from '../device-store.contract.ts';
import { MemoryDeviceStore } from './memory-device-store.ts';

deviceStoreContract('MemoryDeviceStore', async () => ({ store: new MemoryDeviceStore(), close: async () => {} }));

describe('MemoryDeviceStore handled events', () => {
  it('remembers the latest ids of its window, forgetting the oldest first', async () => {
    const store = new MemoryDeviceStore({ dedupeWindow: 3 });
    for (const id of ['a', 'b', 'c']) await store.firstDelivery(id);
    expect(await store.firstDelivery('a')).toBe(false);
    expect(await store.firstDelivery('d')).toBe(true);
    expect(await store.firstDelivery('b')).toBe(false);
    expect(await store.firstDelivery('a')).toBe(true);
  });
});
