import { chatStoreContract } from '../chat-store.contract.ts';
import { pinStoreContract } from '../chat-store.pins.contract.ts';
import { reactionStoreContract } from '../chat-store.reactions.contract.ts';
import { MemoryChatStore } from './memory-chat-store.ts';

chatStoreContract('MemoryChatStore', async () => ({
  store: new MemoryChatStore(),
  close: async () => {},
}));

reactionStoreContract('MemoryChatStore', async () => ({
  store: new MemoryChatStore(),
  close: async () => {},
}));

pinStoreContract('MemoryChatStore', async () => ({
  store: new MemoryChatStore(),
  close: async () => {},
}));
