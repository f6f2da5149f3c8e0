// One server-streaming gRPC call over the gateway's HTTP/2 client: request headers and the
// one request frame out; response headers, a DATA message at a time and the
// trailers in, each handed to the observer as it arrives.

import {
  CANCEL,
  encodeTimeout,
  FLAG_END_STREAM,
  frameMessage,
  type Http2Connection,
  type Http2Headers,
  type Http2Stream,
  MessageReader,
  type MessageSink,
  REFUSED_STREAM,
  type StreamHandler,
} from '@messenger/platform/http2';
import { Code } from '../errors/status.ts';
import type { Channel, PickWaiter } from './http2-channel.ts';
import {
  failure,
  framingFailure,
  isGrpcContentType,
  requestHeaders,
  responsePairs,
  statusOf,
  statusWithoutTrailers,
} from './http2-metadata.ts';
import type { PendingStream, StreamObserver, UpstreamCall, UpstreamStatus } from './upstream.ts';

export interface StreamCallShared {
  readonly maxReceiveBytes: number;
  /** Records the finished stream; `started` is `performance.now()`. */
  readonly observe: ((call: UpstreamCall, code: number, started: number) => void) | undefined;
}

/**
 * A server stream: the call, its pick waiter and its message sink in one
 * object, its stream's handler, so an
 * open stream holds this object, its HTTP/2 stream and a message reader —
 * none of grpc-js's per-call layers. A stream that nothing can have reached
 * (no connection yet, a refused or unsendable stream) is tried once more;
 * after response headers it is never retried: the updates it carried are
 * the caller's to resume from.
 */
export class StreamCall implements PendingStream, PickWaiter, MessageSink, StreamHandler {
  readonly #shared: StreamCallShared;
  readonly #channel: Channel;
  readonly #call: UpstreamCall;
  readonly #observer: StreamObserver;
  readonly #started: number;
  #done = false;
  /** Inside `start`: an end reached now is handed over once it returns. */
  #starting = false;
  #retried = false;
  #waiting = false;
  #paused = false;
  #timer: NodeJS.Timeout | undefined;
  #stream: Http2Stream | undefined;
  #session: Http2Connection | undefined;
  #httpStatus = 0;
  #grpcBody = true;
  #trailers: Http2Headers | undefined;
  #reader: MessageReader | undefined;

  constructor(shared: StreamCallShared, channel: Channel, call: UpstreamCall, observer: StreamObserver) {
    this.#shared = shared;
    this.#channel = channel;
    this.#call = call;
    this.#observer = observer;
    this.#started = shared.observe !== undefined ? performance.now() : -1;
  }

  /**
   * Starts the call. A status it reaches at once (no connection to be had,
   * a deadline already past) reaches the observer after this returns, never
   * during it: callers finish setting up the stream first.
   */
  start(): void {
    this.#starting = true;
    try {
      this.#begin();
    } finally {
      this.#starting = false;
    }
  }

  #begin(): void {
    if (Number.isFinite(this.#call.deadline)) {
      const remaining = this.#call.deadline - Date.now();
      if (remaining <= 0) {
        this.finish(failure(Code.DEADLINE_EXCEEDED, 'Deadline exceeded'));
        return;
      }
      this.#timer = setTimeout(onDeadline, remaining, this);
    }
    this.#attempt();
  }

  cancel(): void {
    if (this.#done) return;
    this.#abort();
    this.finish(failure(Code.CANCELLED, 'Cancelled on client'));
  }

  pause(): void {
    this.#paused = true;
    this.#stream?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#stream?.resume();
  }

  #attempt(): void {
    const session = this.#channel.pick();
    if (session !== undefined) {
      this.#send(session);
      return;
    }
    this.#waiting = true;
    this.#channel.wait(this);
  }

  onSession(session: Http2Connection): void {
    this.#waiting = false;
    if (!this.#done) this.#send(session);
  }

  onNoSession(message: string): void {
    this.#waiting = false;
    this.finish(failure(Code.UNAVAILABLE, message));
  }

  #send(session: Http2Connection): void {
    const call = this.#call;
    let stream: Http2Stream;
    try {
      const timeout = Number.isFinite(call.deadline) ? encodeTimeout(call.deadline - Date.now()) : undefined;
      stream = session.request(
        requestHeaders(call.path, this.#channel.authority, timeout, call.metadata),
        frameMessage(call.request),
        this,
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (session.closed) {
        this.#channel.discard(session);
        this.#unprocessed(failure(Code.UNAVAILABLE, message));
      } else {
        this.finish(failure(Code.INTERNAL, message));
      }
      return;
    }
    this.#stream = stream;
    this.#session = session;
    if (this.#paused) stream.pause();
  }

  /** Nothing of the call reached the service: one more try, else the status. */
  #unprocessed(status: UpstreamStatus): void {
    if (this.#retried || this.#done) {
      this.finish(status);
      return;
    }
    this.#retried = true;
    this.#attempt();
  }

  /** @internal stream handler */
  response(headers: Http2Headers, flags: number): void {
    this.#httpStatus = Number(headers[':status']);
    if ((flags & FLAG_END_STREAM) !== 0) {
      this.#trailers = headers; // trailers-only: refused before any message
      return;
    }
    this.#grpcBody = this.#httpStatus === 200 && isGrpcContentType(headers['content-type']);
    if (this.#grpcBody) this.#observer.onHeaders?.(responsePairs(headers));
  }

  /** @internal stream handler */
  data(chunk: Buffer): void {
    if (!this.#grpcBody || this.#done) return;
    this.#reader ??= new MessageReader(this.#shared.maxReceiveBytes);
    const error = this.#reader.push(chunk, this);
    if (error !== undefined) {
      this.#abort();
      this.finish(framingFailure(error, this.#shared.maxReceiveBytes));
    }
  }

  onMessage(message: Buffer): void {
    if (!this.#done) this.#observer.onMessage(message);
  }

  /** @internal stream handler */
  trailers(trailers: Http2Headers): void {
    this.#trailers = trailers;
  }

  /** @internal stream handler: every event of the stream has been seen. */
  closed(stream: Http2Stream): void {
    this.#stream = undefined;
    if (this.#done) return;
    const trailers = this.#trailers;
    if (trailers !== undefined) {
      const status = statusOf(trailers, this.#httpStatus);
      this.finish(
        status.code === Code.OK && this.#reader?.partial
          ? failure(Code.INTERNAL, 'Stream ended inside a message')
          : status,
      );
      return;
    }
    const code = stream.rstCode;
    if (code === REFUSED_STREAM && this.#httpStatus === 0) {
      this.#unprocessed(failure(Code.UNAVAILABLE, 'Stream refused by server'));
      return;
    }
    this.finish(statusWithoutTrailers(code, this.#session?.destroyed === true, this.#httpStatus, this.#grpcBody));
  }

  /** @internal timer target */
  expired(): void {
    if (this.#done) return;
    this.#abort();
    this.finish(failure(Code.DEADLINE_EXCEEDED, 'Deadline exceeded'));
  }

  #abort(): void {
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream !== undefined && !stream.closed) stream.close(CANCEL);
    if (this.#waiting) {
      this.#waiting = false;
      this.#channel.unwait(this);
    }
  }

  /** Ends the call, once: the observer's `onEnd`, metrics, the timer. */
  finish(status: UpstreamStatus): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#timer);
    if (this.#started >= 0) this.#shared.observe?.(this.#call, status.code, this.#started);
    if (this.#starting) queueMicrotask(() => this.#observer.onEnd(status));
    else this.#observer.onEnd(status);
  }
}

function onDeadline(call: StreamCall): void {
  call.expired();
}
