// An HTTP/2 connection (RFC 9113) written for gRPC, either end of it: the
// gateway's client calls and the services' server. Frames are read from and
// written to the socket directly, headers go through HPACK (hpack.ts).
// node:http2 builds a Duplex stream, an async resource and a few kilobytes
// of objects per request, which outlive it until the next scavenge; here a
// call's stream is one small object that calls its handler directly
// (docs/PERFORMANCE.md has the measurements).
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { HpackDecoder, HpackEncoder } from './hpack.ts';
import { StreamTable } from './stream-table.ts';

/** Received headers or trailers, as node:http2's IncomingHttpHeaders shows them (a repeated one joined by ", "). */
export type Http2Headers = Record<string, string | string[] | undefined>;

/**
 * What a call does with its stream's events. A client's, in order:
 * response, data…, trailers, closed. A server's (its request headers came
 * with `onStream`): data…, ended, closed, and drain whenever what it wrote
 * has all gone out.
 */
export interface StreamHandler {
  /** Client: the response's HEADERS; `flags` has END_STREAM (1) for a trailers-only response. */
  response?(headers: Http2Headers, flags: number): void;
  data(chunk: Buffer): void;
  /** Client: the response's trailers. */
  trailers?(trailers: Http2Headers): void;
  /** Server: the peer ended its side (the request is complete). */
  ended?(): void;
  /** Server: everything written on the stream has been framed; it may write more. */
  drain?(): void;
  /** The stream is closed (`rstCode` tells how, 0 when it ended normally); nothing follows. */
  closed(stream: Http2Stream): void;
}

/** Error codes (RFC 9113 §7); the calls read the exported ones from a stream's `rstCode`. */
export const NO_ERROR = 0;
const PROTOCOL_ERROR = 1;
const INTERNAL_ERROR = 2;
const FLOW_CONTROL_ERROR = 3;
const FRAME_SIZE_ERROR = 6;
export const REFUSED_STREAM = 7;
export const CANCEL = 8;
const STREAM_CLOSED = 5;
const COMPRESSION_ERROR = 9;
export const ENHANCE_YOUR_CALM = 11;
export const FLAG_END_STREAM = 0x1;

const DATA = 0;
const HEADERS = 1;
const RST_STREAM = 3;
const SETTINGS = 4;
const PUSH_PROMISE = 5;
const PING = 6;
const GOAWAY = 7;
const WINDOW_UPDATE = 8;
const CONTINUATION = 9;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const DEFAULT_WINDOW = 65_535;
const MAX_WINDOW = 2 ** 31 - 1;
const MAX_STREAM_ID = 2 ** 31 - 1;
/** Frames this side accepts: the protocol's default, announced by not changing it. */
const MAX_FRAME_IN = 16_384;
/** What one stream may have unread before the peer must wait (a paused stream holds at most this). */
const STREAM_WINDOW = 1 << 20;
/** What all streams together may have in flight towards this side. */
const CONNECTION_WINDOW = 16 << 20;
/** A header block (HEADERS + CONTINUATION) larger than this ends the connection. */
const MAX_HEADER_BLOCK = 256 * 1024;
/** Frames and copies of small payloads are written into slabs of this size, flushed once per event-loop turn. */
const SLAB_BYTES = 64 * 1024;
/**
 * PING and SETTINGS the peer may have this side acknowledge while the
 * socket cannot take more: a peer that sends them without reading the
 * answers would otherwise grow this side's write buffer without bound.
 */
const MAX_UNREAD_ACKS = 10_000;

/** A violation that ends the connection, with the GOAWAY code to send. */
class ConnectionError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/** One stream of a connection: a client's request, or a request a server serves. */
export class Http2Stream {
  id = 0;
  /** How the stream ended: 0 for END_STREAM both ways, else the RST_STREAM code. */
  rstCode = NO_ERROR;
  closed = false;
  handler: StreamHandler | undefined;
  readonly #connection: Http2Connection;
  // The connection's bookkeeping of the stream; callers read only the fields above.
  /** A client's request headers, until the stream is opened (it may wait for the peer's concurrency limit). */
  headers: readonly string[] | undefined;
  /** DATA not yet sent (it may wait for flow-control window), in order. */
  out: Buffer[] = [];
  /** This side's end, once asked for: END_STREAM on the last DATA (`true`), or trailers to send after it. */
  outEnd: true | readonly string[] | undefined;
  /** This side's END_STREAM has been framed. */
  sentEnd = false;
  /** What the peer lets this side send on the stream. */
  sendWindow = 0;
  /** Bytes received on the stream and not yet granted back to the peer (granted as they are handed over). */
  receiveUnacked = 0;
  /** The peer's HEADERS arrived (a server's streams start with them). */
  responded = false;
  /** The peer ended the stream (END_STREAM). */
  ended = false;
  paused = false;
  /** Events held while paused, replayed in order on resume. */
  held: (Buffer | Http2Headers | null)[] | undefined;

  constructor(connection: Http2Connection, handler: StreamHandler | undefined) {
    this.#connection = connection;
    this.handler = handler;
  }

  /** Resets the stream (RST_STREAM `code`); its handler hears nothing more. */
  close(code = CANCEL): void {
    if (this.closed) return;
    this.handler = undefined;
    this.#connection.reset(this, code);
  }

  /** Holds DATA and the end back (and stops granting the peer window) until `resume`. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.held !== undefined) setImmediate(replayHeld, this, this.#connection);
  }

  /** Server: sends the response headers (`[name, value, …]`); with `end`, they are trailers-only and end the stream. */
  respond(headers: readonly string[], end = false): void {
    if (this.closed || this.sentEnd) return;
    if (end) this.sentEnd = true;
    this.#connection.sendHeaders(this, headers, end);
  }

  /**
   * Server: sends `chunk` as DATA when the windows allow. False when it had
   * to wait: the handler's `drain` runs once everything written has gone.
   */
  write(chunk: Buffer): boolean {
    if (this.closed || this.outEnd !== undefined) return true;
    this.out.push(chunk);
    return this.#connection.sendOut(this);
  }

  /** Server: ends the stream with `trailers` once everything written has gone. */
  end(trailers: readonly string[]): void {
    if (this.closed || this.outEnd !== undefined) return;
    this.outEnd = trailers;
    this.#connection.sendOut(this);
  }
}

function replayHeld(stream: Http2Stream, connection: Http2Connection): void {
  connection.replay(stream);
}

interface ConnectionOptions {
  /** True when the socket is TLS: h2 must then have been negotiated by ALPN. */
  readonly tls: boolean;
  /**
   * Makes this the server end: called for each stream the peer opens, with
   * its request headers; it sets the stream's handler (or resets it).
   * Absent, the connection is a client's.
   */
  readonly onStream?: (stream: Http2Stream, headers: Http2Headers, flags: number) => void;
}

/**
 * A connection, either end. Events, as node:http2's session has them:
 * 'remoteSettings' (the peer spoke HTTP/2: ready), 'goaway', 'error',
 * 'close'. `closed`: it takes no new streams (so too once destroyed); `destroyed`: the socket is gone.
 */
export class Http2Connection extends EventEmitter {
  closed = false;
  destroyed = false;
  readonly #socket: Socket;
  readonly #onStream: ConnectionOptions['onStream'];
  readonly #encoder = new HpackEncoder();
  readonly #decoder = new HpackDecoder();
  readonly #streams = new StreamTable<Http2Stream>();
  /** Streams waiting for the peer's concurrency limit, in order. */
  readonly #queued: Http2Stream[] = [];
  /** Open streams with DATA waiting for flow-control window. */
  readonly #blocked = new Set<Http2Stream>();
  #nextId = 1;
  /** Server: the highest stream id the peer has opened (what GOAWAY reports as processed). */
  #lastPeerId = 0;
  /** Server: the client preface is still expected. */
  #awaitingPreface: boolean;
  #settingsSeen = false;
  #peerMaxFrame = MAX_FRAME_IN;
  #peerInitialWindow = DEFAULT_WINDOW;
  #peerMaxStreams = Number.POSITIVE_INFINITY;
  #sendWindow = DEFAULT_WINDOW;
  #receiveUnacked = 0;
  /** Bytes received but not yet parsed (an incomplete frame). */
  #pending: Buffer | undefined;
  /** A header block being continued: its stream, HEADERS flags and fragments. */
  #block: { id: number; flags: number; parts: Buffer[]; bytes: number } | undefined;
  #pings: (() => void)[] = [];
  #slab = Buffer.allocUnsafe(SLAB_BYTES);
  #slabUsed = 0;
  #slabFlushed = 0;
  /** Payloads too large to copy, queued between slab segments. */
  #out: Buffer[] = [];
  #flushScheduled = false;
  /** Acknowledgements written since the socket last drained (counted only while it cannot take more). */
  #unreadAcks = 0;

  constructor(socket: Socket, options: ConnectionOptions) {
    super();
    this.#socket = socket;
    this.#onStream = options.onStream;
    this.#awaitingPreface = options.onStream !== undefined;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err: Error) => this.destroy(err));
    socket.on('close', () => this.destroy());
    socket.on('end', () => this.destroy(new Error('connection closed by the peer')));
    socket.on('drain', () => {
      this.#unreadAcks = 0;
    });
    if (options.tls && socket instanceof TLSSocket) {
      const checkAlpn = () => {
        if (socket.alpnProtocol !== 'h2') this.destroy(new Error('the peer did not negotiate h2 (ALPN)'));
      };
      // A server's socket has finished its handshake when it is handed over.
      if (this.#awaitingPreface) checkAlpn();
      else socket.once('secureConnect', checkAlpn);
    }
    // SETTINGS (no push, this side's stream window), then the connection window;
    // a client writes its preface first.
    const settings = this.#frameInto(SETTINGS, 0, 0, 12);
    this.#slab.writeUInt16BE(0x2, settings);
    this.#slab.writeUInt32BE(0, settings + 2);
    this.#slab.writeUInt16BE(0x4, settings + 6);
    this.#slab.writeUInt32BE(STREAM_WINDOW, settings + 8);
    this.#windowUpdate(0, CONNECTION_WINDOW - DEFAULT_WINDOW);
    if (!this.#awaitingPreface && !this.destroyed) socket.write(PREFACE);
    this.#flush();
  }

  unref(): void {
    this.#socket.unref();
  }

  /** How many streams are open (a server's: the requests it is serving). */
  get streamCount(): number {
    return this.#streams.size;
  }

  /**
   * Client: starts a request: HEADERS, then `body` as DATA ending the stream.
   * Throws (nothing sent) for headers HTTP/2 cannot carry (the connection
   * unaffected), or when the connection takes no new streams (`closed`).
   */
  request(headers: readonly string[], body: Buffer, handler: StreamHandler): Http2Stream {
    if (this.closed) throw new Error('the connection takes no new streams');
    const stream = new Http2Stream(this, handler);
    stream.headers = headers;
    stream.out.push(body);
    stream.outEnd = true;
    if (this.#streams.size < this.#peerMaxStreams) this.#open(stream);
    else this.#queued.push(stream);
    return stream;
  }

  /** Sends a PING; `acknowledged` runs when its ACK arrives. False when the connection is gone. */
  ping(acknowledged: () => void): boolean {
    if (this.destroyed) return false;
    const at = this.#frameInto(PING, 0, 0, 8);
    this.#slab.fill(0, at, at + 8);
    this.#pings.push(acknowledged);
    this.#scheduleFlush();
    return true;
  }

  /**
   * No new streams; the open ones finish, then the connection ends (GOAWAY
   * NO_ERROR to the peer; a server's names the last stream it will serve).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#goaway(NO_ERROR);
    // Streams still waiting for the peer's limit were never sent: refused, safe to retry elsewhere.
    for (const stream of this.#queued.splice(0)) this.#finish(stream, REFUSED_STREAM);
    this.#maybeEnd();
  }

  /** Ends the connection now: every stream still open ends (`closed`), as after the connection was lost. */
  destroy(error?: Error): void {
    this.#end(error, false);
  }

  #end(error: Error | undefined, graceful: boolean): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.closed = true;
    if (graceful) this.#socket.end();
    else this.#socket.destroy();
    for (const stream of this.#queued) this.#finish(stream, REFUSED_STREAM);
    this.#queued.length = 0;
    for (const stream of this.#streams.values()) this.#finish(stream, INTERNAL_ERROR);
    this.#streams.clear();
    this.#blocked.clear();
    this.#pings = [];
    if (error !== undefined && this.listenerCount('error') > 0) this.emit('error', error);
    this.emit('close');
  }

  /** @internal Http2Stream.close */
  reset(stream: Http2Stream, code: number): void {
    const queued = this.#queued.indexOf(stream);
    if (queued >= 0) {
      this.#queued.splice(queued, 1);
      stream.closed = true;
      stream.rstCode = code;
      return;
    }
    this.#rst(stream.id, code);
    this.#finish(stream, code);
  }

  #rst(id: number, code: number): void {
    if (this.destroyed) return;
    const at = this.#frameInto(RST_STREAM, 0, id, 4);
    this.#slab.writeUInt32BE(code, at);
    this.#scheduleFlush();
  }

  /** @internal Http2Stream.resume: what arrived while paused, in order. */
  replay(stream: Http2Stream): void {
    const held = stream.held;
    if (held === undefined || stream.paused) return;
    stream.held = undefined;
    for (let i = 0; i < held.length; i++) {
      const event = held[i];
      if (stream.handler === undefined) return;
      if (stream.paused) {
        stream.held = held.slice(i);
        return;
      }
      if (event === null) this.#finish(stream, NO_ERROR);
      else if (Buffer.isBuffer(event)) this.#deliverData(stream, event);
      else stream.handler.trailers?.(event as Http2Headers);
    }
  }

  #open(stream: Http2Stream): void {
    const block = this.#encoder.encode(stream.headers as readonly string[]); // throws before anything is sent or numbered
    stream.headers = undefined;
    stream.id = this.#nextId;
    this.#nextId += 2;
    stream.sendWindow = this.#peerInitialWindow;
    this.#streams.add(stream.id, stream);
    this.#headerFrames(stream.id, block, false);
    this.sendOut(stream);
    // The last stream id is spent: the connection takes no more (the channel opens another).
    if (this.#nextId > MAX_STREAM_ID) this.close();
  }

  /** @internal Http2Stream.respond */
  sendHeaders(stream: Http2Stream, headers: readonly string[], end: boolean): void {
    if (this.destroyed) return;
    this.#headerFrames(stream.id, this.#encoder.encode(headers), end);
    this.#scheduleFlush();
    if (end) this.#sentEnd(stream);
  }

  /** HEADERS, and CONTINUATION for a block larger than a frame. */
  #headerFrames(id: number, block: Buffer, end: boolean): void {
    let offset = 0;
    let type = HEADERS;
    do {
      const length = Math.min(block.length - offset, this.#peerMaxFrame);
      const last = offset + length === block.length;
      const flags = (last ? FLAG_END_HEADERS : 0) | (end && type === HEADERS ? FLAG_END_STREAM : 0);
      const at = this.#frameInto(type, flags, id, length);
      block.copy(this.#slab, at, offset, offset + length);
      offset += length;
      type = CONTINUATION;
    } while (offset < block.length);
  }

  /**
   * @internal As much of the stream's DATA as the windows allow, then its
   * end once nothing is left; the rest waits for WINDOW_UPDATE. True when
   * nothing had to wait.
   */
  sendOut(stream: Http2Stream): boolean {
    if (this.destroyed || stream.closed) return true;
    const out = stream.out;
    while (out.length > 0) {
      const chunk = out[0] as Buffer;
      const length = Math.min(chunk.length, stream.sendWindow, this.#sendWindow, this.#peerMaxFrame);
      if (length < chunk.length && length <= 0) {
        this.#blocked.add(stream);
        return false;
      }
      const whole = length === chunk.length;
      const endsStream = whole && out.length === 1 && stream.outEnd === true;
      const at = this.#frameInto(
        DATA,
        endsStream ? FLAG_END_STREAM : 0,
        stream.id,
        length,
        length > 1024 ? chunk.subarray(0, length) : undefined,
      );
      if (length <= 1024) chunk.copy(this.#slab, at, 0, length);
      stream.sendWindow -= length;
      this.#sendWindow -= length;
      if (whole) out.shift();
      else out[0] = chunk.subarray(length);
    }
    this.#scheduleFlush();
    const wasBlocked = this.#blocked.delete(stream);
    const end = stream.outEnd;
    if (end === true) {
      this.#sentEnd(stream);
    } else if (end !== undefined) {
      stream.sentEnd = true;
      this.#headerFrames(stream.id, this.#encoder.encode(end), true);
      this.#sentEnd(stream);
    } else if (wasBlocked) {
      stream.handler?.drain?.();
    }
    return true;
  }

  /** This side's END_STREAM is framed: a server's stream is over once the peer's side is too. */
  #sentEnd(stream: Http2Stream): void {
    stream.sentEnd = true;
    if (this.#onStream === undefined || stream.closed) return;
    if (stream.ended) {
      this.#finish(stream, NO_ERROR);
    } else {
      // The response is complete before the request: the rest of it is not wanted (RFC 9113 §8.1).
      this.#rst(stream.id, NO_ERROR);
      this.#finish(stream, NO_ERROR);
    }
  }

  #sendBlocked(): void {
    for (const stream of this.#blocked) {
      if (this.#sendWindow <= 0) break;
      if (stream.sendWindow > 0) this.sendOut(stream);
    }
    this.#scheduleFlush();
  }

  /**
   * Reserves a frame in the slab and writes its 9-byte header; returns where
   * the payload goes. A `payload` given is queued by reference instead.
   */
  #frameInto(type: number, flags: number, id: number, length: number, payload?: Buffer): number {
    const room = 9 + (payload === undefined ? length : 0);
    if (this.#slabUsed + room > this.#slab.length) this.#newSlab(room);
    const slab = this.#slab;
    let p = this.#slabUsed;
    slab[p++] = length >>> 16;
    slab[p++] = (length >>> 8) & 0xff;
    slab[p++] = length & 0xff;
    slab[p++] = type;
    slab[p++] = flags;
    slab.writeUInt32BE(id, p);
    p += 4;
    if (payload !== undefined) {
      this.#slabUsed = p;
      this.#cutSlab();
      this.#out.push(payload);
      return p;
    }
    this.#slabUsed = p + length;
    return p;
  }

  /** Queues the slab's unflushed part as a segment (ahead of a payload queued by reference). */
  #cutSlab(): void {
    if (this.#slabUsed > this.#slabFlushed) this.#out.push(this.#slab.subarray(this.#slabFlushed, this.#slabUsed));
    this.#slabFlushed = this.#slabUsed;
  }

  #newSlab(room: number): void {
    this.#cutSlab();
    this.#slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, room));
    this.#slabUsed = 0;
    this.#slabFlushed = 0;
  }

  #windowUpdate(id: number, increment: number): void {
    const at = this.#frameInto(WINDOW_UPDATE, 0, id, 4);
    this.#slab.writeUInt32BE(increment, at);
  }

  #goaway(code: number): void {
    const at = this.#frameInto(GOAWAY, 0, 0, 8);
    this.#slab.writeUInt32BE(this.#lastPeerId, at);
    this.#slab.writeUInt32BE(code, at + 4);
    this.#scheduleFlush();
  }

  /** Writes go out once per event-loop turn, after every call of the turn has queued its frames. */
  #scheduleFlush(): void {
    if (this.#flushScheduled || this.destroyed) return;
    this.#flushScheduled = true;
    setImmediate(flushConnection, this);
  }

  /** @internal */
  flush(): void {
    this.#flushScheduled = false;
    if (!this.destroyed) this.#flush();
  }

  #flush(): void {
    this.#cutSlab();
    const out = this.#out;
    if (out.length === 0) return;
    this.#out = [];
    this.#socket.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out));
  }

  #onData(chunk: Buffer): void {
    let buf = chunk;
    if (this.#pending !== undefined) {
      buf = Buffer.concat([this.#pending, chunk]);
      this.#pending = undefined;
    }
    let p = 0;
    try {
      if (this.#awaitingPreface) {
        if (buf.length < PREFACE.length) {
          if (!PREFACE.subarray(0, buf.length).equals(buf)) throw new ConnectionError(PROTOCOL_ERROR, 'no preface');
          this.#pending = buf;
          return;
        }
        if (!PREFACE.equals(buf.subarray(0, PREFACE.length))) {
          throw new ConnectionError(PROTOCOL_ERROR, 'the peer is not speaking HTTP/2 (no preface)');
        }
        this.#awaitingPreface = false;
        p = PREFACE.length;
      }
      while (buf.length - p >= 9 && !this.destroyed) {
        const length = (buf[p] as number) * 65536 + (buf[p + 1] as number) * 256 + (buf[p + 2] as number);
        if (length > MAX_FRAME_IN) throw new ConnectionError(FRAME_SIZE_ERROR, `frame of ${length} bytes`);
        if (buf.length - p < 9 + length) break;
        const type = buf[p + 3] as number;
        const flags = buf[p + 4] as number;
        const id = buf.readUInt32BE(p + 5) & 0x7fffffff;
        const start = p + 9;
        p = start + length;
        this.#onFrame(type, flags, id, buf, start, p);
      }
    } catch (err) {
      const code = err instanceof ConnectionError ? err.code : COMPRESSION_ERROR;
      if (!this.destroyed) {
        this.#goaway(code);
        this.#flush();
      }
      this.destroy(err as Error);
      return;
    }
    if (p < buf.length && !this.destroyed) this.#pending = buf.subarray(p);
    if (this.#receiveUnacked >= CONNECTION_WINDOW / 2) {
      this.#windowUpdate(0, this.#receiveUnacked);
      this.#receiveUnacked = 0;
      this.#scheduleFlush();
    }
  }

  #onFrame(type: number, flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (!this.#settingsSeen && type !== SETTINGS) {
      throw new ConnectionError(PROTOCOL_ERROR, 'the peer is not speaking HTTP/2 (no SETTINGS first)');
    }
    if (this.#block !== undefined && type !== CONTINUATION) {
      throw new ConnectionError(PROTOCOL_ERROR, 'a header block was interrupted');
    }
    switch (type) {
      case DATA:
        this.#onDataFrame(flags, id, buf, start, end);
        return;
      case HEADERS: {
        // Every stream is a client's (odd ids): this side's, or a server's peer's.
        if (id === 0 || id % 2 === 0) throw new ConnectionError(PROTOCOL_ERROR, 'HEADERS on an even stream id');
        let a = start;
        let b = end;
        if (flags & FLAG_PADDED) {
          b -= buf[a] as number;
          a++;
        }
        if (flags & FLAG_PRIORITY) a += 5;
        if (a > b) throw new ConnectionError(PROTOCOL_ERROR, 'HEADERS padding exceeds the frame');
        if (flags & FLAG_END_HEADERS) {
          this.#onHeaderBlock(id, flags, buf, a, b);
        } else {
          this.#block = { id, flags, parts: [Buffer.from(buf.subarray(a, b))], bytes: b - a };
        }
        return;
      }
      case CONTINUATION: {
        const block = this.#block;
        if (block === undefined || block.id !== id)
          throw new ConnectionError(PROTOCOL_ERROR, 'unexpected CONTINUATION');
        block.bytes += end - start;
        if (block.bytes > MAX_HEADER_BLOCK) throw new ConnectionError(PROTOCOL_ERROR, 'header block too large');
        block.parts.push(Buffer.from(buf.subarray(start, end)));
        if (flags & FLAG_END_HEADERS) {
          this.#block = undefined;
          const whole = Buffer.concat(block.parts);
          this.#onHeaderBlock(id, block.flags, whole, 0, whole.length);
        }
        return;
      }
      case RST_STREAM: {
        if (end - start !== 4) throw new ConnectionError(FRAME_SIZE_ERROR, 'RST_STREAM of the wrong size');
        const stream = this.#streams.get(id);
        if (stream !== undefined) this.#finish(stream, buf.readUInt32BE(start));
        return;
      }
      case SETTINGS:
        this.#onSettings(flags, id, buf, start, end);
        return;
      case PUSH_PROMISE:
        throw new ConnectionError(PROTOCOL_ERROR, 'PUSH_PROMISE though push is disabled');
      case PING:
        if (end - start !== 8 || id !== 0) throw new ConnectionError(FRAME_SIZE_ERROR, 'malformed PING');
        if (flags & FLAG_ACK) {
          this.#pings.shift()?.();
        } else {
          this.#acknowledging();
          const at = this.#frameInto(PING, FLAG_ACK, 0, 8);
          buf.copy(this.#slab, at, start, end);
          this.#scheduleFlush();
        }
        return;
      case GOAWAY:
        if (end - start < 8 || id !== 0) throw new ConnectionError(FRAME_SIZE_ERROR, 'malformed GOAWAY');
        this.#onGoaway(buf.readUInt32BE(start) & 0x7fffffff, buf.readUInt32BE(start + 4));
        return;
      case WINDOW_UPDATE: {
        if (end - start !== 4) throw new ConnectionError(FRAME_SIZE_ERROR, 'WINDOW_UPDATE of the wrong size');
        const increment = buf.readUInt32BE(start) & 0x7fffffff;
        if (id === 0) {
          if (increment === 0) throw new ConnectionError(PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
          this.#sendWindow += increment;
          if (this.#sendWindow > MAX_WINDOW)
            throw new ConnectionError(FLOW_CONTROL_ERROR, 'connection window overflow');
        } else {
          const stream = this.#streams.get(id);
          if (stream === undefined) return;
          stream.sendWindow += increment;
          if (increment === 0 || stream.sendWindow > MAX_WINDOW) {
            this.reset(stream, increment === 0 ? PROTOCOL_ERROR : FLOW_CONTROL_ERROR);
            return;
          }
        }
        if (this.#blocked.size > 0) this.#sendBlocked();
        return;
      }
      default:
        // PRIORITY and unknown frame types are ignored (RFC 9113 §4.1, §5.3.2).
        return;
    }
  }

  #onSettings(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id !== 0) throw new ConnectionError(PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & FLAG_ACK) {
      if (end !== start) throw new ConnectionError(FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if ((end - start) % 6 !== 0) throw new ConnectionError(FRAME_SIZE_ERROR, 'SETTINGS of the wrong size');
    for (let p = start; p < end; p += 6) {
      const key = buf.readUInt16BE(p);
      const value = buf.readUInt32BE(p + 2);
      switch (key) {
        case 0x1:
          this.#encoder.setPeerTableSize(value);
          break;
        case 0x3:
          this.#peerMaxStreams = value;
          break;
        case 0x4: {
          if (value > MAX_WINDOW) throw new ConnectionError(FLOW_CONTROL_ERROR, 'initial window too large');
          const delta = value - this.#peerInitialWindow;
          this.#peerInitialWindow = value;
          for (const stream of this.#streams.values()) stream.sendWindow += delta;
          break;
        }
        case 0x5:
          if (value < 16_384 || value > 16_777_215) throw new ConnectionError(PROTOCOL_ERROR, 'invalid max frame size');
          this.#peerMaxFrame = value;
          break;
        default:
          break;
      }
    }
    this.#acknowledging();
    this.#frameInto(SETTINGS, FLAG_ACK, 0, 0);
    this.#scheduleFlush();
    if (this.#blocked.size > 0) this.#sendBlocked();
    this.#openQueued();
    if (!this.#settingsSeen) {
      this.#settingsSeen = true;
      this.emit('remoteSettings');
    }
  }

  #onDataFrame(flags: number, id: number, buf: Buffer, start: number, end: number): void {
    if (id === 0) throw new ConnectionError(PROTOCOL_ERROR, 'DATA on stream 0');
    const length = end - start;
    this.#receiveUnacked += length;
    const stream = this.#streams.get(id);
    if (stream === undefined) return; // reset by this side: the window is counted, the bytes dropped
    let a = start;
    let b = end;
    if (flags & FLAG_PADDED) {
      b -= buf[a] as number;
      a++;
      if (a > b) throw new ConnectionError(PROTOCOL_ERROR, 'DATA padding exceeds the frame');
    }
    if (!stream.responded || stream.ended) {
      this.reset(stream, stream.ended ? STREAM_CLOSED : PROTOCOL_ERROR);
      return;
    }
    stream.receiveUnacked += length;
    if (b > a) {
      const chunk = buf.subarray(a, b);
      if (stream.paused) holdOf(stream).push(chunk);
      else this.#deliverData(stream, chunk);
    }
    if (flags & FLAG_END_STREAM) this.#ended(stream, null);
  }

  /** An acknowledgement the peer asked for is about to be written. */
  #acknowledging(): void {
    if (this.#socket.writableNeedDrain && ++this.#unreadAcks > MAX_UNREAD_ACKS) {
      throw new ConnectionError(ENHANCE_YOUR_CALM, 'the peer sends PING or SETTINGS without reading the answers');
    }
  }

  #deliverData(stream: Http2Stream, chunk: Buffer): void {
    stream.handler?.data(chunk);
    // The stream's window is granted back as its data is handed over (held while paused).
    if (!stream.ended && !stream.closed && stream.receiveUnacked >= STREAM_WINDOW / 2) {
      this.#windowUpdate(stream.id, stream.receiveUnacked);
      stream.receiveUnacked = 0;
      this.#scheduleFlush();
    }
  }

  #onHeaderBlock(id: number, flags: number, buf: Buffer, start: number, end: number): void {
    // Decoded even for a stream no longer wanted: the table must follow every block.
    const pairs = this.#decoder.decode(buf, start, end);
    const stream = this.#streams.get(id);
    const endStream = (flags & FLAG_END_STREAM) !== 0;
    if (stream === undefined) {
      if (this.#onStream !== undefined) this.#peerOpened(id, headersOf(pairs), flags);
      return;
    }
    const headers = headersOf(pairs);
    if (!stream.responded) {
      const status = headers[':status'];
      // Informational (1xx) headers are not the response.
      if (typeof status !== 'string') {
        this.reset(stream, PROTOCOL_ERROR);
        return;
      }
      if (status.startsWith('1') && !endStream) return;
      stream.responded = true;
      stream.handler?.response?.(headers, flags & FLAG_END_STREAM);
      if (endStream) this.#ended(stream, null);
      return;
    }
    if (!endStream || stream.ended) {
      this.reset(stream, PROTOCOL_ERROR);
      return;
    }
    this.#ended(stream, headers);
  }

  /** Server: the peer's HEADERS on a stream id not open here. */
  #peerOpened(id: number, headers: Http2Headers, flags: number): void {
    // A stream this side has already closed (reset, or answered early): its late frames are dropped.
    if (id <= this.#lastPeerId) return;
    this.#lastPeerId = id;
    // After GOAWAY, new streams are refused: the peer may retry them elsewhere.
    if (this.closed) {
      this.#rst(id, REFUSED_STREAM);
      return;
    }
    const stream = new Http2Stream(this, undefined);
    stream.id = id;
    stream.responded = true;
    stream.ended = (flags & FLAG_END_STREAM) !== 0;
    stream.sendWindow = this.#peerInitialWindow;
    this.#streams.add(id, stream);
    (this.#onStream as NonNullable<ConnectionOptions['onStream']>)(stream, headers, flags);
    if (stream.ended && !stream.closed) {
      stream.handler?.ended?.();
      if (stream.sentEnd) this.#finish(stream, NO_ERROR);
    }
  }

  /** The peer ended the stream, with trailers or without. */
  #ended(stream: Http2Stream, trailers: Http2Headers | null): void {
    stream.ended = true;
    if (this.#onStream !== undefined) {
      // A server's stream stays open for the response; it is over once that has been sent.
      stream.handler?.ended?.();
      if (stream.sentEnd) this.#finish(stream, NO_ERROR);
      return;
    }
    if (stream.paused) {
      const held = holdOf(stream);
      if (trailers !== null) held.push(trailers);
      held.push(null);
      return;
    }
    if (trailers !== null) stream.handler?.trailers?.(trailers);
    this.#finish(stream, NO_ERROR);
  }

  #onGoaway(lastId: number, code: number): void {
    const wasClosed = this.closed;
    this.closed = true;
    if (this.#onStream === undefined) {
      // Streams above the last one the peer processed never reached it: refused, safe to retry.
      for (const stream of this.#streams.values()) if (stream.id > lastId) this.#finish(stream, REFUSED_STREAM);
      for (const stream of this.#queued) this.#finish(stream, REFUSED_STREAM);
      this.#queued.length = 0;
    }
    if (!wasClosed) this.emit('goaway', code, lastId);
    if (code !== NO_ERROR) this.destroy(new Error(`GOAWAY with error code ${code}`));
    else this.#maybeEnd();
  }

  /** Closes a stream, once, and tells its handler. */
  #finish(stream: Http2Stream, code: number): void {
    if (stream.closed) return;
    stream.closed = true;
    stream.rstCode = code;
    stream.out.length = 0;
    stream.held = undefined;
    if (stream.id !== 0 && this.#streams.delete(stream.id, stream)) this.#blocked.delete(stream);
    const handler = stream.handler;
    stream.handler = undefined;
    handler?.closed(stream);
    if (!this.destroyed) {
      this.#openQueued();
      this.#maybeEnd();
    }
  }

  #openQueued(): void {
    while (this.#queued.length > 0 && this.#streams.size < this.#peerMaxStreams && !this.closed) {
      const stream = this.#queued.shift() as Http2Stream;
      try {
        this.#open(stream);
      } catch {
        this.#finish(stream, INTERNAL_ERROR);
      }
    }
  }

  /** A closed connection ends once its last stream has. */
  #maybeEnd(): void {
    if (!this.closed || this.destroyed || this.#streams.size > 0 || this.#queued.length > 0) return;
    this.#flush();
    this.#end(undefined, true);
  }
}

function holdOf(stream: Http2Stream): (Buffer | Http2Headers | null)[] {
  if (stream.held === undefined) stream.held = [];
  return stream.held;
}

function flushConnection(connection: Http2Connection): void {
  connection.flush();
}

/** Header pairs as an object: a repeated name's values joined by ", " (set-cookie: an array), as node:http2 does. */
function headersOf(pairs: readonly string[]): Http2Headers {
  // No prototype: a header named __proto__ is just a header.
  const headers: Http2Headers = Object.create(null);
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i] as string;
    const value = pairs[i + 1] as string;
    const previous = headers[name];
    if (previous === undefined) headers[name] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else headers[name] = name === 'set-cookie' ? [previous, value] : `${previous}, ${value}`;
  }
  return headers;
}
