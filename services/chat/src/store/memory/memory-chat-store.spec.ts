import { chatStoreContract } from '../chat-store.contract.ts';
import { chatStoreMentionsContract } from '../chat-store-mentions.contract.ts';
import { chatStoreSettingsContract } from '../chat-store-settings.contract.ts';
import { MemoryChatStore } from './memory-chat-store.ts';

chatStoreContract('MemoryChatStore', async () => ({
  store: new MemoryChatStore(),
  close: async () => {},
}));

chatStoreMentionsContract('MemoryChatStore', async () => ({
  store: new MemoryChatStore(),
  close: async () => {},
}));

chatStoreSettingsContract('MemoryChatStore', async () => ({
  store: new MemoryChatStore(),
  close: async () => {},
}));
