// One unary gRPC call over the gateway's HTTP/2 client, across its attempts: request
// headers and frame out, response headers, DATA and trailers in, the status
// decided when the stream closes, retries and the deadline on top.
import { RETRY_BACKOFF } from '@messenger/platform/grpc';
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
  pushbackOf,
  requestHeaders,
  responsePairs,
  statusOf,
  statusWithoutTrailers,
} from './http2-metadata.ts';
import type { MetadataPairs, PendingUnary, UnaryResponse, UpstreamCall, UpstreamStatus } from './upstream.ts';

/** What every call of one upstream shares. */
export interface UnaryCallShared {
  readonly maxReceiveBytes: number;
  readonly maxAttempts: number;
  /** Records the finished call (once per call, whatever its attempts); `started` is `performance.now()`. */
  readonly observe: ((call: UpstreamCall, code: number, started: number) => void) | undefined;
}

/** A unary call always has a deadline; one without gets this, so nothing waits forever. */
const FALLBACK_TIMEOUT_MS = 300_000;
const EMPTY: MetadataPairs = [];
const OK: UpstreamStatus = { code: Code.OK, message: '', details: undefined };

/**
 * One unary call, across its attempts. It is its own PendingUnary, pick
 * waiter and message sink, and its stream's handler: the connection calls
 * it directly, nothing is bound or closed over per call.
 */
export class UnaryCall implements PendingUnary, PickWaiter, MessageSink, StreamHandler {
  readonly result: Promise<UnaryResponse>;
  readonly #shared: UnaryCallShared;
  readonly #channel: Channel;
  readonly #call: UpstreamCall;
  readonly #idempotent: boolean;
  readonly #started: number;
  #resolve!: (response: UnaryResponse) => void;
  #response: UnaryResponse | undefined;
  #deadline = 0;
  #done = false;
  #attempts = 0;
  #transparentRetried = false;
  #timer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #waiting = false;
  // The current attempt.
  #stream: Http2Stream | undefined;
  #session: Http2Connection | undefined;
  #httpStatus = 0;
  /** The response is gRPC (200, application/grpc); other bodies are drained unread. */
  #grpcBody = true;
  /** Response headers arrived: the call is committed, never retried (gRPC retry design). */
  #committed = false;
  #headers: MetadataPairs = EMPTY;
  #trailers: Http2Headers | undefined;
  #reader: MessageReader | undefined;
  #message: Buffer | undefined;
  #extraMessage = false;

  constructor(shared: UnaryCallShared, channel: Channel, call: UpstreamCall, idempotent: boolean, observed: boolean) {
    this.#shared = shared;
    this.#channel = channel;
    this.#call = call;
    this.#idempotent = idempotent;
    this.#started = observed && shared.observe !== undefined ? performance.now() : -1;
    this.result = new Promise<UnaryResponse>((resolve) => {
      this.#resolve = resolve;
    });
  }

  start(): void {
    const deadline = Number.isFinite(this.#call.deadline) ? this.#call.deadline : Date.now() + FALLBACK_TIMEOUT_MS;
    this.#deadline = deadline;
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      this.finish(failure(Code.DEADLINE_EXCEEDED, 'Deadline exceeded'));
      return;
    }
    this.#timer = setTimeout(onDeadline, remaining, this);
    this.#attempt();
  }

  cancel(): void {
    if (this.#done) return;
    this.#abort();
    this.finish(failure(Code.CANCELLED, 'Cancelled on client'));
  }

  #attempt(): void {
    this.#attempts++;
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
    if (!this.#done) this.#ended(failure(Code.UNAVAILABLE, message), false);
  }

  #send(session: Http2Connection): void {
    const call = this.#call;
    const remaining = this.#deadline - Date.now();
    this.#httpStatus = 0;
    this.#grpcBody = true;
    this.#headers = EMPTY;
    this.#trailers = undefined;
    this.#reader = undefined;
    this.#message = undefined;
    this.#extraMessage = false;
    let stream: Http2Stream;
    try {
      const headers = requestHeaders(call.path, this.#channel.authority, encodeTimeout(remaining), call.metadata);
      stream = session.request(headers, frameMessage(call.request), this);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (session.closed) {
        // The session takes no more streams: nothing was sent, another one is tried.
        this.#channel.discard(session);
        this.#ended(failure(Code.UNAVAILABLE, message), true);
      } else {
        // Headers HTTP/2 cannot carry (a path with CR/LF): no session would take them.
        this.finish(failure(Code.INTERNAL, message));
      }
      return;
    }
    this.#stream = stream;
    this.#session = session;
  }

  /** @internal stream handler */
  response(headers: Http2Headers, flags: number): void {
    this.#httpStatus = Number(headers[':status']);
    if ((flags & FLAG_END_STREAM) !== 0) {
      this.#trailers = headers; // trailers-only: the status is in the only HEADERS frame
      return;
    }
    this.#committed = true;
    this.#grpcBody = this.#httpStatus === 200 && isGrpcContentType(headers['content-type']);
    this.#headers = responsePairs(headers);
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
    if (this.#message === undefined) this.#message = message;
    else this.#extraMessage = true;
  }

  /** @internal stream handler */
  trailers(trailers: Http2Headers): void {
    this.#trailers = trailers;
  }

  /** @internal stream handler: the attempt's stream is closed; every event of it has been seen. */
  closed(stream: Http2Stream): void {
    this.#stream = undefined;
    if (this.#done) return;
    const trailers = this.#trailers;
    if (trailers === undefined) {
      const code = stream.rstCode;
      this.#ended(
        statusWithoutTrailers(code, this.#session?.destroyed === true, this.#httpStatus, this.#grpcBody),
        code === REFUSED_STREAM,
      );
      return;
    }
    const status = this.#statusOfTrailers(trailers);
    if (status.code === Code.OK) this.finish(OK);
    else this.#ended(status, false);
  }

  /** The trailers' status, unless the body broke the unary contract (one whole message). */
  #statusOfTrailers(trailers: Http2Headers): UpstreamStatus {
    const status = statusOf(trailers, this.#httpStatus);
    if (status.code !== Code.OK) return status;
    if (this.#reader?.partial) return failure(Code.INTERNAL, 'Response ended inside a message');
    if (this.#message === undefined) return failure(Code.UNIMPLEMENTED, 'No message received');
    if (this.#extraMessage) return failure(Code.UNIMPLEMENTED, 'Too many responses received');
    return status;
  }

  /**
   * An attempt failed: retried when nothing can have reached the service
   * (once, at once), or when the method is idempotent, the status
   * UNAVAILABLE and no response headers arrived (backoff, maxAttempts).
   */
  #ended(status: UpstreamStatus, unprocessed: boolean): void {
    if (status.code === Code.UNAVAILABLE && !this.#committed) {
      if (unprocessed && !this.#transparentRetried) {
        this.#transparentRetried = true;
        this.#attempts--;
        this.#attempt();
        return;
      }
      if (this.#idempotent && this.#attempts < this.#shared.maxAttempts) {
        const pushback = pushbackOf(this.#trailers);
        // The same backoff as the grpc-js channels' retry policy, with full jitter.
        const ceiling = Math.min(
          RETRY_BACKOFF.initialMs * RETRY_BACKOFF.multiplier ** (this.#attempts - 1),
          RETRY_BACKOFF.maxMs,
        );
        const delay = pushback ?? Math.random() * ceiling;
        if (delay >= 0 && Date.now() + delay < this.#deadline) {
          this.#retryTimer = setTimeout(onRetry, delay, this);
          return;
        }
      }
    }
    this.finish(status);
  }

  /** @internal timer target */
  retry(): void {
    this.#retryTimer = undefined;
    if (!this.#done) this.#attempt();
  }

  /** @internal timer target */
  expired(): void {
    if (this.#done) return;
    this.#abort();
    this.finish(failure(Code.DEADLINE_EXCEEDED, 'Deadline exceeded'));
  }

  /** Resets the attempt in flight (RST_STREAM CANCEL) or leaves the queue. */
  #abort(): void {
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream !== undefined && !stream.closed) stream.close(CANCEL);
    if (this.#waiting) {
      this.#waiting = false;
      this.#channel.unwait(this);
    }
  }

  /** Settles the call, once: the response, metrics, timers. */
  finish(status: UpstreamStatus): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#timer);
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    if (this.#started >= 0) this.#shared.observe?.(this.#call, status.code, this.#started);
    const ok = status.code === Code.OK;
    this.#response = { status, body: ok ? this.#message : undefined, headers: this.#headers };
    settled.push(this);
    if (!deliveryScheduled) {
      deliveryScheduled = true;
      setImmediate(deliverSettled);
    }
  }

  /** @internal */
  deliver(): void {
    const response = this.#response as UnaryResponse;
    this.#response = undefined;
    this.#resolve(response);
  }
}

/**
 * Results are handed to callers a few at a time, one group per event-loop
 * turn, after the connections have sent what the turn wrote (each flushes
 * once per turn, in the check phase, where this runs too). Under
 * load the answers to one group go out, their clients' next requests arrive
 * and are forwarded while the rest are still being answered: the gateway
 * and the service work at the same time instead of taking turns with the
 * whole batch (more req/s at the same CPU per request; docs/PERFORMANCE.md).
 */
const DELIVERIES_PER_TURN = 8;
let settled: UnaryCall[] = [];
let deliveryScheduled = false;

function deliverSettled(): void {
  const batch = settled;
  const n = Math.min(DELIVERIES_PER_TURN, batch.length);
  for (let i = 0; i < n; i++) (batch[i] as UnaryCall).deliver();
  if (n < batch.length) {
    settled = batch.slice(n);
    setImmediate(deliverSettled);
  } else {
    settled = [];
    deliveryScheduled = false;
  }
}

function onDeadline(call: UnaryCall): void {
  call.expired();
}
function onRetry(call: UnaryCall): void {
  call.retry();
}
