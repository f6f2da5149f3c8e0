import { attachmentStoreContract } from '../chat-store.attachments.contract.ts';
import { chatStoreContract } from '../chat-store.contract.ts';
import { inviteStoreContract } from '../chat-store.invites.contract.ts';
import { pinStoreContract } from '../chat-store.pins.contract.ts';
import { reactionStoreContract } from '../chat-store.reactions.contract.ts';
import { chatStoreMentionsContract } from '../chat-store-mentions.contract.ts';
import { chatStoreSettingsContract } from '../chat-store-settings.contract.ts';
import { MemoryChatStore } from './memory-chat-store.ts';

chatStoreContract('MemoryChatStore', async () => ({
  store: new MemoryChatStore(),
  close: async () => {},
}));

reactionStoreContract('MemoryChatStore', async () => ({
  store: new MemoryChatStore(),
  close: async () => {},
}));

inviteStoreContract('MemoryChatStore', async () => ({
  store: new MemoryChatStore(),
  close: async () => {},
}));

pinStoreContract('MemoryChatStore', async () => ({
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

attachmentStoreContract('MemoryChatStore', async () => ({
  store: new MemoryChatStore(),
  close: async () => {},
}));
