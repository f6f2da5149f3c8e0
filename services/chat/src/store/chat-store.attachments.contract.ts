// Attachments as every ChatStore adapter must keep them: reservations and
// their limit, completion, sending with a post, release on deletion, and the
// collector's claims, which can never take an attachment a post has sent.
// Run by the memory and SQLite specs always, and by the MongoDB spec when
// MONGODB_URL is set.
import { randomUUID } from 'node:crypto';
import { type Attachment, type Chat, type Message, memberFrom, messageCreated, tombstoneOf } from '../domain/chat.ts';
import type { AppendResult, ChatStorage, GarbageCutoffs } from '../domain/chat-storage.ts';
import { chatEventEntry } from '../events/chat-events.ts';
import type { ChatStoreFixture } from './chat-store.contract.ts';
import { withEventEncoding } from './chat-store.ts';

export function attachmentStoreContract(name: string, make: () => Promise<ChatStoreFixture>): void {
  describe(`ChatStore attachments contract: ${name}`, () => {
    let fixture: ChatStoreFixture;
    let store: ChatStorage;
    const owner = randomUUID();
    const other = randomUUID();
    let chat: Chat;
    let clock = Date.parse('2025-01-01T00:00:00.000Z');
    const tick = () => {
      clock += 1000;
      return new Date(clock);
    };
    const HOUR = 60 * 60 * 1000;
    /** Cutoffs under which only released attachments are garbage. */
    const releasedOnly = (): GarbageCutoffs => ({
      pendingBefore: new Date(0),
      uploadedBefore: new Date(0),
      claimedBefore: new Date(0),
    });

    beforeEach(async () => {
      fixture = await make();
      store = withEventEncoding(fixture.store, chatEventEntry);
      const t = tick();
      chat = {
        id: randomUUID(),
        type: 'group',
        title: 'g',
        description: '',
        avatarUrl: '',
        ownerId: owner,
        directKey: '',
        members: [memberFrom(owner, undefined, 'owner', t), memberFrom(other, undefined, 'member', t)],
        createTime: t,
        lastActivityTime: t,
        lastSequence: 0,
        version: 1,
      };
      await store.createChat(chat, [{ kind: 'chat_created', chat, time: t, requestId: 'r' }]);
    });
    afterEach(async () => {
      await fixture.close();
    });

    const reserve = async (uploaderId = owner, createTime = tick()): Promise<Attachment> => {
      const a: Attachment = {
        id: randomUUID(),
        chatId: chat.id,
        uploaderId,
        fileName: 'photo.jpg',
        createTime,
        state: 'pending',
        messageId: '',
        mediaType: '',
        sizeBytes: 0,
        width: 0,
        height: 0,
        hasThumbnail: false,
      };
      expect(await store.putAttachment(a, 50)).toBe('created');
      return a;
    };
    const upload = async (uploaderId = owner, createTime = tick()): Promise<Attachment> => {
      const a = await reserve(uploaderId, createTime);
      const uploaded: Attachment = {
        ...a,
        state: 'uploaded',
        mediaType: 'image/jpeg',
        sizeBytes: 1234,
        width: 640,
        height: 480,
        hasThumbnail: true,
      };
      expect(await store.completeAttachment(uploaded)).toBe(true);
      return uploaded;
    };
    const post = (attachments: readonly Attachment[], senderId = owner): Promise<AppendResult> =>
      store.appendMessage(
        {
          id: randomUUID(),
          chatId: chat.id,
          senderId,
          clientMessageId: randomUUID(),
          text: '',
          createTime: tick(),
          attachments,
        },
        (m, ids) => messageCreated(m, ids, 'r'),
      );
    const sent = async (attachments: readonly Attachment[]): Promise<Message> => {
      const result = await post(attachments);
      if (result.kind !== 'created') throw new Error(`not posted: ${result.kind}`);
      return result.message;
    };

    it('keeps a reservation and its completion, which happens once', async () => {
      const a = await reserve();
      expect(await store.getAttachment(a.id)).toEqual(a);
      const uploaded = { ...a, state: 'uploaded' as const, mediaType: 'application/pdf', sizeBytes: 99 };
      expect(await store.completeAttachment(uploaded)).toBe(true);
      expect(await store.getAttachment(a.id)).toEqual(uploaded);
      expect(await store.completeAttachment({ ...uploaded, sizeBytes: 1 })).toBe(false);
      expect((await store.getAttachment(a.id))?.sizeBytes).toBe(99);
      expect(await store.getAttachment(randomUUID())).toBeUndefined();
    });

    it('refuses a reservation past the uploader’s limit of unsent ones; sent ones do not count', async () => {
      const first = await upload();
      await reserve();
      const extra = { ...first, id: randomUUID(), state: 'pending' as const };
      expect(await store.putAttachment(extra, 2)).toBe('limit');
      expect(await store.getAttachment(extra.id)).toBeUndefined();
      await reserve(other);
      await sent([first]);
      expect(await store.putAttachment(extra, 2)).toBe('created');
    });

    it('sends uploads with a post, in order, and the message keeps them', async () => {
      const a = await upload();
      const b = await upload();
      const message = await sent([b, a]);
      expect(message.attachments.map((x) => x.id)).toEqual([b.id, a.id]);
      expect(message.attachments.every((x) => x.state === 'sent' && x.messageId === message.id)).toBe(true);
      expect((await store.getMessage(chat.id, message.id))?.attachments).toEqual(message.attachments);
      expect(await store.getAttachment(a.id)).toMatchObject({ state: 'sent', messageId: message.id });
      expect((await store.listMessages(chat.id, undefined, 10))[0]?.attachments).toEqual(message.attachments);
    });

    it('stores nothing when an attachment is no longer an unsent upload of the sender', async () => {
      const a = await upload();
      const pending = await reserve();
      const others = await upload(other);
      await sent([a]);
      const fresh = await upload();
      for (const gone of [a, pending, others]) {
        expect(await post([fresh, gone])).toEqual({ kind: 'attachment_gone', attachmentId: gone.id });
      }
      expect(await store.getAttachment(fresh.id)).toMatchObject({ state: 'uploaded', messageId: '' });
      expect(await store.listMessages(chat.id, undefined, 10)).toHaveLength(1);
    });

    it('of two posts racing to send one upload, one stores it', async () => {
      const a = await upload();
      const results = await Promise.all([post([a]), post([a])]);
      expect(results.map((r) => r.kind).sort()).toEqual(['attachment_gone', 'created']);
      expect(await store.listMessages(chat.id, undefined, 10)).toHaveLength(1);
    });

    it('releases a deleted message’s attachments, and the message shows none', async () => {
      const a = await upload();
      const message = await sent([a]);
      await store.updateMessage(tombstoneOf(message, owner), []);
      expect((await store.getMessage(chat.id, message.id))?.attachments).toEqual([]);
      expect((await store.getAttachment(a.id))?.state).toBe('released');
    });

    it('claims garbage once: released, stale pending and unsent; never sent or fresh ones', async () => {
      const stalePending = await reserve(owner, new Date(clock - 2 * HOUR));
      const staleUnsent = await upload(owner, new Date(clock - 2 * HOUR));
      const freshPending = await reserve();
      const freshUnsent = await upload();
      const kept = await upload(owner, new Date(clock - 2 * HOUR));
      const keptMessage = await sent([kept]);
      const released = await upload();
      await store.updateMessage(tombstoneOf(await sent([released]), owner), []);
      const now = tick();
      const cutoffs: GarbageCutoffs = {
        pendingBefore: new Date(now.getTime() - HOUR),
        uploadedBefore: new Date(now.getTime() - HOUR),
        claimedBefore: new Date(now.getTime() - HOUR),
      };
      const claimed = await store.claimAttachmentGarbage(now, cutoffs, 100);
      expect(claimed.map((a) => a.id).sort()).toEqual([stalePending.id, staleUnsent.id, released.id].sort());
      expect(claimed.every((a) => a.state === 'deleting')).toBe(true);
      // Claimed: not again within the lease, and no post can send them.
      expect(await store.claimAttachmentGarbage(now, cutoffs, 100)).toEqual([]);
      expect((await post([staleUnsent])).kind).toBe('attachment_gone');
      for (const a of [freshPending, freshUnsent])
        expect((await store.getAttachment(a.id))?.state).not.toBe('deleting');
      expect(await store.getAttachment(kept.id)).toMatchObject({ state: 'sent', messageId: keptMessage.id });

      await store.deleteAttachments(claimed.map((a) => a.id));
      for (const a of claimed) expect(await store.getAttachment(a.id)).toBeUndefined();
    });

    it('hands a claim its collector never finished to a later one, and deletes only claimed attachments', async () => {
      const a = await upload();
      await store.updateMessage(tombstoneOf(await sent([a]), owner), []);
      const firstClaim = new Date(clock);
      expect((await store.claimAttachmentGarbage(firstClaim, releasedOnly(), 10)).map((x) => x.id)).toEqual([a.id]);
      const later = new Date(firstClaim.getTime() + HOUR);
      const lease = { ...releasedOnly(), claimedBefore: new Date(later.getTime() - HOUR / 2) };
      expect((await store.claimAttachmentGarbage(later, lease, 10)).map((x) => x.id)).toEqual([a.id]);

      const b = await upload();
      await store.deleteAttachments([b.id]);
      expect((await store.getAttachment(b.id))?.state).toBe('uploaded');
    });

    it('claims at most the limit per call', async () => {
      for (let i = 0; i < 3; i++) await store.updateMessage(tombstoneOf(await sent([await upload()]), owner), []);
      expect(await store.claimAttachmentGarbage(tick(), releasedOnly(), 2)).toHaveLength(2);
      expect(await store.claimAttachmentGarbage(tick(), releasedOnly(), 2)).toHaveLength(1);
    });
  });
}
