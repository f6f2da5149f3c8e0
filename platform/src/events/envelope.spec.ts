import { EventEnvelope } from '@messenger/gen/messenger/events/v1/envelope';
import { createEnvelope, packPayload, payloadTypeName } from './envelope.ts';

describe('createEnvelope', () => {
  const payload = packPayload('messenger.user.v1.UserUpdated', new Uint8Array([1, 2, 3]));

  it('fills a UUID id and the time, and survives the wire', () => {
    const before = Date.now();
    const e = createEnvelope({ type: 'user.user.updated', source: 'user', key: 'u1', payload, requestId: 'r1' });
    expect(e.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(e.time?.getTime()).toBeGreaterThanOrEqual(before);
    expect(EventEnvelope.decode(EventEnvelope.encode(e).finish())).toEqual(e);
    expect(createEnvelope({ type: 'user.user.updated', source: 'user', key: 'u1', payload }).id).not.toBe(e.id);
  });

  it('keeps a given time and defaults the request id to empty', () => {
    const time = new Date('2024-05-01T10:00:00.123Z');
    const e = createEnvelope({ type: 'chat.message.sent', source: 'chat', key: 'c1', payload, time });
    expect(e).toMatchObject({ time, requestId: '' });
  });

  it('rejects a type that is not <service>.<entity>.<change>, or a missing key or source', () => {
    const ok = { type: 'user.user.updated', source: 'user', key: 'u1', payload };
    expect(() => createEnvelope({ ...ok, type: 'UserUpdated' })).toThrow(/<service>.<entity>.<change>/);
    expect(() => createEnvelope({ ...ok, type: 'user.updated' })).toThrow(/<service>/);
    expect(() => createEnvelope({ ...ok, key: '' })).toThrow(/key/);
    expect(() => createEnvelope({ ...ok, source: '' })).toThrow(/source/);
  });
});

describe('packPayload', () => {
  it('names the type under type.googleapis.com, as Any expects', () => {
    const any = packPayload('messenger.chat.v1.MessageSent', new Uint8Array([9]));
    expect(any.typeUrl).toBe('type.googleapis.com/messenger.chat.v1.MessageSent');
    expect(Buffer.isBuffer(any.value)).toBe(true);
    expect(payloadTypeName(any)).toBe('messenger.chat.v1.MessageSent');
    expect(payloadTypeName(undefined)).toBe('');
  });
});
