// How node:http2's events of a call's stream reach the call: the stream is
// tagged with its call and shares one set of listener functions with every
// other stream, so nothing is bound or closed over per call.
import { type ClientHttp2Stream, constants, type IncomingHttpHeaders } from 'node:http2';
import { Code } from '../errors/status.ts';
import { failure, statusOf } from './http2-metadata.ts';
import type { UpstreamStatus } from './upstream.ts';

/** What a call (unary or streaming) does with its stream's events. */
export interface StreamEvents {
  /** Events of an abandoned attempt (cancel, deadline, retry) are ignored. */
  isStale(stream: ClientHttp2Stream): boolean;
  response(headers: IncomingHttpHeaders, flags: number): void;
  data(chunk: Buffer): void;
  trailers(trailers: IncomingHttpHeaders): void;
  /** The stream is closed: every event of it has been seen. */
  closed(stream: ClientHttp2Stream): void;
}

const CALL = Symbol('call');
type TaggedStream = ClientHttp2Stream & { [CALL]?: StreamEvents };

/** Routes `stream`'s events to `call` until the stream closes. */
export function attachCall(stream: ClientHttp2Stream, call: StreamEvents): void {
  (stream as TaggedStream)[CALL] = call;
  stream.on('response', onResponse);
  stream.on('data', onData);
  stream.on('trailers', onTrailers);
  stream.on('error', onError);
  stream.on('close', onClose);
}

const NO_TRAILERS: IncomingHttpHeaders = {};
const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_ENHANCE_YOUR_CALM } = constants;

/** Why a stream ended without a gRPC status: from its reset code, its connection and the HTTP status. */
export function statusWithoutTrailers(
  rstCode: number,
  connectionLost: boolean,
  httpStatus: number,
  grpcBody: boolean,
): UpstreamStatus {
  if (rstCode === NGHTTP2_REFUSED_STREAM) return failure(Code.UNAVAILABLE, 'Stream refused by server');
  if (connectionLost) return failure(Code.UNAVAILABLE, 'Connection dropped');
  if (rstCode === NGHTTP2_CANCEL) return failure(Code.CANCELLED, 'Call cancelled by server');
  if (rstCode === NGHTTP2_ENHANCE_YOUR_CALM) return failure(Code.RESOURCE_EXHAUSTED, 'Bandwidth exhausted');
  // A non-gRPC answer (an HTML error page, a proxy's 503): the HTTP status tells.
  if (httpStatus !== 0 && (httpStatus !== 200 || !grpcBody)) return statusOf(NO_TRAILERS, httpStatus);
  return failure(Code.INTERNAL, `Stream closed without gRPC status (RST_STREAM ${rstCode})`);
}

function onResponse(this: TaggedStream, headers: IncomingHttpHeaders, flags: number): void {
  const call = this[CALL];
  if (call !== undefined && !call.isStale(this)) call.response(headers, flags);
}
function onData(this: TaggedStream, chunk: Buffer): void {
  const call = this[CALL];
  if (call !== undefined && !call.isStale(this)) call.data(chunk);
}
function onTrailers(this: TaggedStream, trailers: IncomingHttpHeaders): void {
  const call = this[CALL];
  if (call !== undefined && !call.isStale(this)) call.trailers(trailers);
}
function onClose(this: TaggedStream): void {
  const call = this[CALL];
  this[CALL] = undefined;
  if (call !== undefined && !call.isStale(this)) call.closed(this);
}
/** Errors end in 'close', where the status is decided; the listener keeps them from being thrown. */
function onError(): void {}
