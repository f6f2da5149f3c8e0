// The internal attachment calls over real gRPC: BeginAttachment and
// CompleteAttachment admit the gateway only, for the user it names, and
// check that user as the public calls check the caller.
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { ChatType } from '@messenger/gen/messenger/chat/v1/chat';
import { call, failure } from '@messenger/platform/testing';
import { type ChatTestSystem, startChatTestSystem } from '../testing/chat-test-system.ts';

describe('attachment reservations over gRPC', () => {
  let sys: ChatTestSystem;
  beforeAll(async () => {
    sys = await startChatTestSystem();
  });
  afterAll(async () => {
    await sys.stop();
  });
  const as = async (service: string) => sys.auth.bearer(await sys.auth.serviceToken(service));

  it('admits the gateway only, acting for a member of the chat', async () => {
    const [a, b, stranger] = [await sys.newUser(), await sys.newUser(), await sys.newUser()];
    await sys.befriend(a, b);
    const { chat } = await call(
      sys.client,
      sys.client.createChat,
      { type: ChatType.CHAT_TYPE_DIRECT, memberIds: [b.id], title: '' },
      a.md,
    );
    const chatId = chat?.chatId ?? '';
    const begin = { chatId, fileName: 'a.pdf', userId: a.id };
    for (const md of [a.md, await as('notification')]) {
      const error = await failure(call(sys.client, sys.client.beginAttachment, begin, md));
      expect(error.code).toBe(status.PERMISSION_DENIED);
    }

    const gateway = await as('gateway');
    const { attachment } = await call(sys.client, sys.client.beginAttachment, begin, gateway);
    expect(attachment).toMatchObject({ chatId, uploaderId: a.id, fileName: 'a.pdf' });
    const denied = await failure(
      call(sys.client, sys.client.beginAttachment, { ...begin, userId: stranger.id }, gateway),
    );
    expect(denied.code).toBe(status.NOT_FOUND);
    const unnamed = await failure(call(sys.client, sys.client.beginAttachment, { ...begin, userId: 'nope' }, gateway));
    expect(unnamed.code).toBe(status.INVALID_ARGUMENT);

    // No bytes stored (this system has no media store): nothing to complete.
    const complete = { chatId, attachmentId: attachment?.attachmentId ?? '', userId: a.id, width: 0, height: 0 };
    const early = await failure(call(sys.client, sys.client.completeAttachment, complete, gateway));
    expect(early.code).toBe(status.FAILED_PRECONDITION);
    const foreign = await failure(
      call(sys.client, sys.client.completeAttachment, { ...complete, userId: b.id }, gateway),
    );
    expect(foreign.code).toBe(status.NOT_FOUND);
    const byUser = await failure(call(sys.client, sys.client.completeAttachment, complete, a.md));
    expect(byUser.code).toBe(status.PERMISSION_DENIED);
    const unknown = await failure(
      call(sys.client, sys.client.completeAttachment, { ...complete, attachmentId: randomUUID() }, gateway),
    );
    expect(unknown.code).toBe(status.NOT_FOUND);
  });
});
