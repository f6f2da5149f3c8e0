// gRPC's length-prefixed message framing over HTTP/2 DATA frames, and the
// `grpc-timeout` header: the byte-level half of the gRPC-over-HTTP/2 wire
// format (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md).

/** Compressed-Flag (1 byte) + Message-Length (4 bytes, big-endian). */
export const FRAME_HEADER_BYTES = 5;
/** grpc-js's default `grpc.max_receive_message_length`. */
export const DEFAULT_MAX_RECEIVE_BYTES = 4 * 1024 * 1024;

/** One uncompressed length-prefixed message: a single copy into one buffer. */
export function frameMessage(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + message.byteLength);
  frame[0] = 0;
  frame.writeUInt32BE(message.byteLength, 1);
  frame.set(message, FRAME_HEADER_BYTES);
  return frame;
}

/** Why a response body could not be read; the caller turns it into a status. */
export type FramingError = 'compressed' | 'bad-flag' | 'too-large';

/** Receives each complete message (an object, not a callback, so a call passes itself and nothing is bound). */
export interface MessageSink {
  onMessage(message: Buffer): void;
}

/**
 * Reads length-prefixed messages from DATA chunks as they arrive. A message
 * inside one chunk is a view of it (no copy); one split across chunks is
 * copied once into a buffer of its announced size, which is checked against
 * the limit before anything is allocated, so a peer never makes it buffer
 * more than `maxBytes` (+ 5 header bytes).
 */
export class MessageReader {
  readonly #maxBytes: number;
  /** Header bytes of a frame split across chunks. */
  #header: Buffer | undefined;
  #headerFilled = 0;
  /** The message being assembled across chunks, and how much of it has arrived. */
  #message: Buffer | undefined;
  #filled = 0;
  #error: FramingError | undefined;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** The first framing error seen; once set, every later chunk is ignored. */
  get error(): FramingError | undefined {
    return this.#error;
  }

  /** True when the body ended in the middle of a frame. */
  get partial(): boolean {
    return this.#headerFilled > 0 || this.#message !== undefined;
  }

  /**
   * Feeds one DATA chunk; `sink` gets every message it completes, in order.
   * Returns the framing error that stopped reading, if any.
   */
  push(chunk: Buffer, sink: MessageSink): FramingError | undefined {
    if (this.#error !== undefined) return this.#error;
    let offset = 0;
    const end = chunk.length;
    while (offset < end) {
      const pending = this.#message;
      if (pending !== undefined) {
        const take = Math.min(pending.length - this.#filled, end - offset);
        chunk.copy(pending, this.#filled, offset, offset + take);
        this.#filled += take;
        offset += take;
        if (this.#filled === pending.length) {
          this.#message = undefined;
          sink.onMessage(pending);
        }
        continue;
      }
      let flag: number;
      let length: number;
      if (this.#headerFilled === 0 && end - offset >= FRAME_HEADER_BYTES) {
        flag = chunk[offset] as number;
        length = chunk.readUInt32BE(offset + 1);
        offset += FRAME_HEADER_BYTES;
      } else {
        const header = this.#header ?? Buffer.allocUnsafe(FRAME_HEADER_BYTES);
        this.#header = header;
        const take = Math.min(FRAME_HEADER_BYTES - this.#headerFilled, end - offset);
        chunk.copy(header, this.#headerFilled, offset, offset + take);
        this.#headerFilled += take;
        offset += take;
        if (this.#headerFilled < FRAME_HEADER_BYTES) break;
        this.#headerFilled = 0;
        flag = header[0] as number;
        length = header.readUInt32BE(1);
      }
      if (flag !== 0) {
        // No message encoding is ever offered (no grpc-accept-encoding), so a
        // compressed message is as much a protocol violation as an unknown flag.
        this.#error = flag === 1 ? 'compressed' : 'bad-flag';
        return this.#error;
      }
      if (length > this.#maxBytes) {
        this.#error = 'too-large';
        return this.#error;
      }
      if (end - offset >= length) {
        const message = chunk.subarray(offset, offset + length);
        offset += length;
        sink.onMessage(message);
      } else {
        this.#message = Buffer.allocUnsafe(length);
        this.#filled = 0;
      }
    }
    return undefined;
  }
}

/**
 * The `grpc-timeout` value for a remaining time: at most 8 digits, in the
 * finest unit that fits, rounded up so the server never sees a shorter
 * deadline than ours.
 */
export function encodeTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  if (whole < 100_000_000) return `${whole}m`;
  const seconds = Math.ceil(whole / 1000);
  if (seconds < 100_000_000) return `${seconds}S`;
  return `${Math.min(99_999_999, Math.ceil(seconds / 3600))}H`;
}
