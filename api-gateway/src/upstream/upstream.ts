/**
 * The gateway's only view of its services: method path + request bytes +
 * metadata + deadline in; response bytes + status + headers out. Routing,
 * marshalling and policy never see the transport, so another client (one
 * leaner than grpc-js, say) can replace it without touching them.
 */
export interface UpstreamCall {
  /** Fully-qualified service name, e.g. `messenger.user.v1.UserService`: picks the channel. */
  readonly service: string;
  /** `/messenger.user.v1.UserService/GetUser`. */
  readonly path: string;
  /** The encoded request message. */
  readonly request: Uint8Array;
  /** ASCII metadata (lower-case keys) sent with the call. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Epoch milliseconds; `Infinity` for none (long-lived streams). */
  readonly deadline: number;
}

export interface UpstreamStatus {
  readonly code: number;
  /** The service's status message: for the gateway's logs; shown to clients only for 4xx codes. */
  readonly message: string;
  /** The raw `grpc-status-details-bin` trailer (`google.rpc.Status`), if any. */
  readonly details: Uint8Array | undefined;
}

export type MetadataPairs = ReadonlyArray<readonly [string, string]>;

export interface UnaryResponse {
  readonly status: UpstreamStatus;
  /** The response message when the status is OK. */
  readonly body: Uint8Array | undefined;
  /** The service's response headers (ASCII only), for `Grpc-Metadata-*`. */
  readonly headers: MetadataPairs;
}

export interface PendingUnary {
  /** Never rejects: transport failures are statuses (UNAVAILABLE, DEADLINE_EXCEEDED, …). */
  readonly result: Promise<UnaryResponse>;
  /** Cancels the call (the client went away); the result then settles with CANCELLED. */
  cancel(): void;
}

export interface StreamObserver {
  onHeaders?(headers: MetadataPairs): void;
  onMessage(message: Uint8Array): void;
  /** Called once, last; never before `serverStream` has returned, whatever the status. */
  onEnd(status: UpstreamStatus): void;
}

export interface PendingStream {
  cancel(): void;
  /** Flow control: stop reading from the service until `resume`. */
  pause(): void;
  resume(): void;
}

export interface Upstream {
  unary(call: UpstreamCall): PendingUnary;
  serverStream(call: UpstreamCall, observer: StreamObserver): PendingStream;
  /** `grpc.health.v1.Health/Check` of one service; false when not SERVING or unreachable. */
  health(service: string, timeoutMs: number): Promise<boolean>;
  close(): void;
}

/**
 * The implementations of `Upstream`: `http2` (upstream/http2-upstream.ts,
 * the gateway's own HTTP/2 client; the default) and `grpc-js` (upstream/grpc-upstream.ts).
 */
export const UPSTREAM_TRANSPORTS = ['http2', 'grpc-js'] as const;
export type UpstreamTransport = (typeof UPSTREAM_TRANSPORTS)[number];
