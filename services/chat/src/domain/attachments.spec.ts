// Attachments through the use cases over the memory store and a media store
// the test fills: who may reserve, complete, read and send an upload, and
// what the collector does when the media store fails.
import { randomUUID } from 'node:crypto';
import { DomainError } from '@messenger/platform/domain';
import { chatEventEntry } from '../events/chat-events.ts';
import { withEventEncoding } from '../store/chat-store.ts';
import { MemoryChatStore } from '../store/memory/memory-chat-store.ts';
import { collectAttachmentGarbage, fileNameProblem, type MediaContent, type StoredContent } from './attachments.ts';
import type { Profile } from './chat.ts';
import type { ChatStorage } from './chat-storage.ts';
import { createChatUseCases } from './chat-use-cases.ts';

describe('attachments', () => {
  const HOUR = 60 * 60 * 1000;
  let clock: number;
  let store: ChatStorage;
  let stored: Map<string, StoredContent>;
  let failing: boolean;
  let chats: ReturnType<typeof createChatUseCases>;
  const [ann, bob, eve] = [randomUUID(), randomUUID(), randomUUID()];
  let chatId: string;
  const media: MediaContent = {
    describe: async (id) => stored.get(id),
    remove: async (id) => {
      if (failing) throw new Error('bucket unreachable');
      stored.delete(id);
    },
  };

  beforeEach(async () => {
    clock = Date.parse('2026-01-01T00:00:00.000Z');
    stored = new Map();
    failing = false;
    store = withEventEncoding(new MemoryChatStore(), chatEventEntry);
    chats = createChatUseCases({
      store,
      users: {
        getProfiles: async (ids) =>
          new Map(
            ids.map((id): [string, Profile] => [
              id,
              { userId: id, nickname: 'n', avatarUrl: '', updateTime: undefined },
            ]),
          ),
      },
      friends: { relation: async () => ({ friends: true, blocked: false }), friendIds: async () => [] },
      now: () => new Date(clock),
      media,
    });
    chatId = (await chats.createChat(as(ann), { type: 'direct', memberIds: [bob], title: '' })).chat.id;
  });

  const as = (userId: string) => ({ actor: { kind: 'user' as const, userId }, requestId: 'r' });
  const outcome = (promise: Promise<unknown>) =>
    promise.then(
      () => 'ok',
      (error: unknown) =>
        error instanceof DomainError
          ? [error.reason, ...error.violations.map((v) => v.field)].join(' ')
          : Promise.reject(error),
    );
  const uploadAs = async (userId: string) => {
    const begun = await chats.beginAttachment(as(userId), chatId, 'a.png');
    stored.set(begun.id, { mediaType: 'image/png', sizeBytes: 10, hasThumbnail: true });
    return chats.completeAttachment(as(userId), { chatId, attachmentId: begun.id, width: 4, height: 3 });
  };
  const send = (userId: string, attachmentIds: string[]) =>
    chats.sendMessage(as(userId), { chatId, clientMessageId: randomUUID(), text: '', attachmentIds });

  it('takes size, type and thumbnail from the media store, and completes once', async () => {
    const begun = await chats.beginAttachment(as(ann), chatId, 'a.png');
    expect(
      await outcome(chats.completeAttachment(as(ann), { chatId, attachmentId: begun.id, width: 1, height: 1 })),
    ).toBe('ATTACHMENT_NOT_UPLOADED');
    stored.set(begun.id, { mediaType: 'image/png', sizeBytes: 10, hasThumbnail: true });
    const done = await chats.completeAttachment(as(ann), { chatId, attachmentId: begun.id, width: 4, height: 3 });
    expect(done).toMatchObject({ state: 'uploaded', mediaType: 'image/png', sizeBytes: 10, width: 4, height: 3 });
    stored.set(begun.id, { mediaType: 'text/plain', sizeBytes: 99, hasThumbnail: false });
    const again = await chats.completeAttachment(as(ann), { chatId, attachmentId: begun.id, width: 9, height: 9 });
    expect(again).toEqual(done);
    expect(
      await outcome(chats.completeAttachment(as(bob), { chatId, attachmentId: begun.id, width: 1, height: 1 })),
    ).toBe('ATTACHMENT_NOT_FOUND');
  });

  it('lets members only reserve, and refuses file names that are paths', async () => {
    expect(await outcome(chats.beginAttachment(as(eve), chatId, ''))).toBe('CHAT_NOT_FOUND');
    expect(await outcome(chats.beginAttachment(as(ann), chatId, '../x'))).toBe('INVALID_ARGUMENT file_name');
    for (const bad of ['a/b', 'a\\b', 'a\u0000b', '..', 'x'.repeat(256)]) expect(fileNameProblem(bad)).toBeDefined();
    for (const good of ['', 'Rechnung März.pdf', '.profile', 'x'.repeat(255)])
      expect(fileNameProblem(good)).toBeUndefined();
  });

  it('shows an upload to its uploader only until it is sent, then to every member', async () => {
    const a = await uploadAs(ann);
    expect(await outcome(chats.getAttachment(as(bob), chatId, a.id))).toBe('ATTACHMENT_NOT_FOUND');
    const message = await send(ann, [a.id]);
    expect(message.attachments).toEqual([expect.objectContaining({ id: a.id, state: 'sent', messageId: message.id })]);
    expect(await chats.getAttachment(as(bob), chatId, a.id)).toMatchObject({ state: 'sent' });
    expect(await outcome(chats.getAttachment(as(eve), chatId, a.id))).toBe('CHAT_NOT_FOUND');
  });

  it('sends only the sender’s own unsent uploads, and allows an empty text only with some', async () => {
    const bobs = await uploadAs(bob);
    expect(await outcome(send(ann, [bobs.id]))).toBe('INVALID_ARGUMENT attachment_ids[0]');
    const mine = await uploadAs(ann);
    expect(await outcome(send(ann, [mine.id, mine.id]))).toBe('INVALID_ARGUMENT attachment_ids[1]');
    expect(await outcome(send(ann, []))).toBe('INVALID_ARGUMENT text');
    await send(ann, [mine.id]);
    expect(await outcome(send(ann, [mine.id]))).toBe('INVALID_ARGUMENT attachment_ids[0]');
  });

  it('caps the uploads a user holds unsent', async () => {
    for (let i = 0; i < 50; i++) await chats.beginAttachment(as(ann), chatId, '');
    expect(await outcome(chats.beginAttachment(as(ann), chatId, ''))).toBe('ATTACHMENT_LIMIT');
    expect(await outcome(chats.beginAttachment(as(bob), chatId, ''))).toBe('ok');
  });

  it('removes the bytes of a deleted message and of stale uploads; a failed removal is retried after the lease', async () => {
    const sent = await uploadAs(ann);
    const message = await send(ann, [sent.id]);
    const stale = await uploadAs(ann);
    const kept = await uploadAs(ann);
    await send(ann, [kept.id]);
    await chats.deleteMessage(as(ann), chatId, message.id);
    clock += 25 * HOUR;

    failing = true;
    const errors: string[] = [];
    expect(await collectAttachmentGarbage(store, media, new Date(clock), (id) => errors.push(id))).toBe(0);
    expect(errors.sort()).toEqual([sent.id, stale.id].sort());
    failing = false;
    expect(await collectAttachmentGarbage(store, media, new Date(clock), () => undefined)).toBe(0);
    expect(await collectAttachmentGarbage(store, media, new Date(clock + HOUR), () => undefined)).toBe(2);
    expect([...stored.keys()]).toEqual([kept.id]);
    expect(await store.getAttachment(sent.id)).toBeUndefined();
  });
});
