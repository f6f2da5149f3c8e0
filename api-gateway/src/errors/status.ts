import { fromBinary, type Registry, toJson } from '@bufbuild/protobuf';
import {
  BadRequest,
  ErrorInfo,
  Help,
  LocalizedMessage,
  PreconditionFailure,
  QuotaFailure,
  RequestInfo,
  ResourceInfo,
  RetryInfo,
} from '@messenger/gen/google/rpc/error_details';
import { Status } from '@messenger/gen/google/rpc/status';

/** gRPC status codes (google.rpc.Code). */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type Code = (typeof Code)[keyof typeof Code];

/** grpc-gateway v2's table (runtime/errors.go HTTPStatusFromCode); anything unknown is 500. */
const HTTP_OF_CODE: readonly number[] = [
  200, // OK
  499, // CANCELLED
  500, // UNKNOWN
  400, // INVALID_ARGUMENT
  504, // DEADLINE_EXCEEDED
  404, // NOT_FOUND
  409, // ALREADY_EXISTS
  403, // PERMISSION_DENIED
  429, // RESOURCE_EXHAUSTED
  400, // FAILED_PRECONDITION
  409, // ABORTED
  400, // OUT_OF_RANGE
  501, // UNIMPLEMENTED
  500, // INTERNAL
  503, // UNAVAILABLE
  500, // DATA_LOSS
  401, // UNAUTHENTICATED
];

export function httpStatusOf(code: number): number {
  return HTTP_OF_CODE[code] ?? 500;
}

/** The gRPC code a client should read from an HTTP status the gateway produced itself (Fastify's 4xx). */
export function codeOfHttpStatus(status: number): Code {
  switch (status) {
    case 401:
      return Code.UNAUTHENTICATED;
    case 403:
      return Code.PERMISSION_DENIED;
    case 404:
      return Code.NOT_FOUND;
    case 405:
    case 501:
      return Code.UNIMPLEMENTED;
    case 408:
    case 504:
      return Code.DEADLINE_EXCEEDED;
    case 409:
      return Code.ABORTED;
    case 429:
      return Code.RESOURCE_EXHAUSTED;
    case 499:
      return Code.CANCELLED;
    case 503:
      return Code.UNAVAILABLE;
    default:
      return status >= 500 ? Code.INTERNAL : Code.INVALID_ARGUMENT;
  }
}

/** The JSON form of `google.rpc.Status`, the body of every error the gateway sends. */
export interface StatusBody {
  code: number;
  message: string;
  details: unknown[];
}

const TYPE_PREFIX = 'type.googleapis.com/';

interface DetailCodec {
  decode(bytes: Uint8Array): unknown;
  toJSON(message: never): unknown;
}

/**
 * Detail types passed on to clients. DebugInfo (stack traces, internal
 * detail) is deliberately absent: it never leaves the gateway.
 */
const DETAIL_CODECS: ReadonlyMap<string, DetailCodec> = new Map<string, DetailCodec>([
  ['google.rpc.BadRequest', BadRequest as DetailCodec],
  ['google.rpc.ErrorInfo', ErrorInfo as DetailCodec],
  ['google.rpc.RetryInfo', RetryInfo as DetailCodec],
  ['google.rpc.QuotaFailure', QuotaFailure as DetailCodec],
  ['google.rpc.PreconditionFailure', PreconditionFailure as DetailCodec],
  ['google.rpc.ResourceInfo', ResourceInfo as DetailCodec],
  ['google.rpc.RequestInfo', RequestInfo as DetailCodec],
  ['google.rpc.Help', Help as DetailCodec],
  ['google.rpc.LocalizedMessage', LocalizedMessage as DetailCodec],
]);

/**
 * Reads the `google.rpc.Status` a service put in `grpc-status-details-bin`
 * and renders its details as proto3 JSON `Any`s (`{"@type": …, …fields}`).
 * Details of a type neither the gateway nor the contracts know are dropped:
 * they cannot be rendered, and might be internal.
 */
export function decodeStatusDetails(bin: Uint8Array | undefined, registry?: Registry): unknown[] {
  if (bin === undefined || bin.length === 0) return [];
  let status: Status;
  try {
    status = Status.decode(bin);
  } catch {
    return [];
  }
  const out: unknown[] = [];
  for (const any of status.details) {
    const typeName = any.typeUrl.slice(any.typeUrl.lastIndexOf('/') + 1);
    try {
      const codec = DETAIL_CODECS.get(typeName);
      if (codec) {
        out.push({
          '@type': `${TYPE_PREFIX}${typeName}`,
          ...(codec.toJSON(codec.decode(any.value) as never) as object),
        });
        continue;
      }
      if (typeName === 'google.rpc.DebugInfo') continue;
      const schema = registry?.getMessage(typeName);
      if (schema) {
        const json = toJson(schema, fromBinary(schema, any.value), { registry });
        out.push({ '@type': `${TYPE_PREFIX}${typeName}`, ...(json as object) });
      }
    } catch {
      // A detail that does not decode is dropped; the status itself still stands.
    }
  }
  return out;
}

export function badRequestDetail(violations: readonly { field: string; description: string }[]): unknown {
  return {
    '@type': `${TYPE_PREFIX}google.rpc.BadRequest`,
    fieldViolations: violations.map((v) => ({ field: v.field, description: v.description })),
  };
}

export function errorInfoDetail(reason: string, metadata?: Record<string, string>): unknown {
  return {
    '@type': `${TYPE_PREFIX}google.rpc.ErrorInfo`,
    reason,
    domain: 'messenger',
    ...(metadata ? { metadata } : {}),
  };
}

/**
 * A failure the gateway answers itself (auth, limits, bad input, upstream
 * status). Below 500 it is sent as it is; from 500 up the error handler
 * logs the message (and cause) under a fresh error id and sends only a
 * generic message with that id.
 */
export class GatewayError extends Error {
  readonly code: Code;
  readonly httpStatus: number;
  readonly details: unknown[];
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(
    code: Code,
    message: string,
    opts: { details?: unknown[]; headers?: Record<string, string>; httpStatus?: number; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.httpStatus = opts.httpStatus ?? httpStatusOf(code);
    this.details = opts.details ?? [];
    this.headers = opts.headers;
  }

  body(): StatusBody {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** What a client sees of a server-side failure: never its text, only what kind it was and an id to quote. */
export function genericMessage(code: number, errorId: string): string {
  const what =
    code === Code.UNAVAILABLE
      ? 'the service is unavailable; try again later'
      : code === Code.DEADLINE_EXCEEDED
        ? 'the request timed out'
        : code === Code.UNIMPLEMENTED
          ? 'not implemented'
          : 'internal error';
  return `${what} (error id ${errorId})`;
}

const CODE_NAMES: readonly string[] = Object.entries(Code)
  .sort((a, b) => a[1] - b[1])
  .map(([name]) => name);

/** `NOT_FOUND` for 5; `CODE_<n>` for a code outside google.rpc.Code. */
export function codeName(code: number): string {
  return CODE_NAMES[code] ?? `CODE_${code}`;
}
