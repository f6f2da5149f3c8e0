import { create, type DescMessage, toBinary } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { loadMessengerCatalog } from '@messenger/platform/api-catalog';
import { eventIdReader } from './streaming.ts';

// The SSE event id of a stream frame comes straight from the frame's bytes.
// These are the real contract's StreamUpdatesResponse frames, the id one
// message down (update.update_id).
let response: DescMessage;
let update: DescMessage;
let readId: (bytes: Uint8Array) => string | undefined;

beforeAll(async () => {
  const { registry } = await loadMessengerCatalog();
  const message = (name: string) => {
    const desc = registry.getMessage(name);
    if (!desc) throw new Error(`${name} is not in the contracts`);
    return desc;
  };
  response = message('messenger.chat.v1.StreamUpdatesResponse');
  update = message('messenger.chat.v1.Update');
  readId = eventIdReader(response);
});

const field = (desc: DescMessage, name: string) => {
  const f = desc.fields.find((x) => x.name === name);
  if (!f) throw new Error(`${desc.typeName} has no ${name}`);
  return f.number;
};

/** An Update's bytes with the given id, and a text beside it so the id is not alone. */
function updateBytes(updateId: string | undefined): Uint8Array {
  const w = new BinaryWriter();
  if (updateId !== undefined) w.tag(field(update, 'update_id'), WireType.LengthDelimited).string(updateId);
  w.tag(field(update, 'heartbeat'), WireType.LengthDelimited).bytes(new Uint8Array());
  return w.finish();
}

/** A StreamUpdatesResponse whose `update` field occurs once per part (the wire allows it; decoding merges them). */
function frame(...parts: Uint8Array[]): Uint8Array {
  const w = new BinaryWriter();
  for (const p of parts) w.tag(field(response, 'update'), WireType.LengthDelimited).bytes(p);
  return w.finish();
}

describe('the event id of a stream frame', () => {
  it('is the update id, as the decoded message has it', () => {
    const bytes = toBinary(
      response,
      create(response, { update: create(update, { updateId: 'h1.AQID', kind: { case: 'heartbeat', value: {} } }) }),
    );
    expect(readId(bytes)).toBe('h1.AQID');
  });

  it('follows the wire: the last occurrence wins, and a repeated message field merges', () => {
    expect(readId(frame(updateBytes('a'), updateBytes('b')))).toBe('b');
    expect(readId(frame(updateBytes('a'), updateBytes(undefined)))).toBe('a');
  });

  it('is absent when the frame has none, or when it cannot be an SSE id', () => {
    expect(readId(frame())).toBeUndefined();
    expect(readId(frame(updateBytes(undefined)))).toBeUndefined();
    expect(readId(frame(updateBytes('')))).toBeUndefined();
    expect(readId(frame(updateBytes('a\nretry: 1')))).toBeUndefined();
    expect(readId(frame(updateBytes('x'.repeat(1025))))).toBeUndefined();
  });

  it('refuses bytes that are not a message', () => {
    const whole = frame(updateBytes('abc'));
    expect(() => readId(whole.subarray(0, whole.length - 2))).toThrow();
  });

  it('is never there for a response without an id field', () => {
    const time = update.fields.find((f) => f.name === 'time')?.message;
    if (!time) throw new Error('Update has no time');
    const bytes = toBinary(time, create(time, { seconds: 5n, nanos: 1 }));
    expect(eventIdReader(time)(bytes)).toBeUndefined();
  });
});
