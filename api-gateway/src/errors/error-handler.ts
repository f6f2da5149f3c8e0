import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from '@messenger/platform/logger';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MarshalError } from '../marshal/request.ts';
import {
  badRequestDetail,
  Code,
  codeName,
  codeOfHttpStatus,
  GatewayError,
  genericMessage,
  type StatusBody,
} from './status.ts';

const JSON_TYPE = 'application/json; charset=utf-8';
const MAX_MESSAGE = 500;

/** What any failure becomes on the wire; 5xx carry only a generic message and an error id. */
export interface Rendered {
  readonly httpStatus: number;
  readonly body: StatusBody;
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** Set for 5xx: the id in the message and in the log line. */
  readonly errorId: string | undefined;
}

export function render(error: unknown): Rendered {
  if (error instanceof GatewayError) {
    if (error.httpStatus < 500) {
      return { httpStatus: error.httpStatus, body: error.body(), headers: error.headers, errorId: undefined };
    }
    return serverFailure(error.code, error.httpStatus, error.headers);
  }
  if (error instanceof MarshalError) {
    const details =
      error.field === undefined ? [] : [badRequestDetail([{ field: error.field, description: error.message }])];
    return {
      httpStatus: 400,
      body: { code: Code.INVALID_ARGUMENT, message: error.message, details },
      headers: undefined,
      errorId: undefined,
    };
  }
  const status = (error as Partial<FastifyError> | undefined)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own refusals (bad JSON, body too large, media type…): their
    // text describes the client's input, never server internals.
    const message = (error as Error).message ?? 'bad request';
    return {
      httpStatus: status,
      body: { code: codeOfHttpStatus(status), message: clip(message), details: [] },
      headers: undefined,
      errorId: undefined,
    };
  }
  return serverFailure(Code.INTERNAL, 500, undefined);
}

function serverFailure(code: Code, httpStatus: number, headers: Rendered['headers']): Rendered {
  const errorId = randomUUID();
  return { httpStatus, body: { code, message: genericMessage(code, errorId), details: [] }, headers, errorId };
}

export function sendRendered(reply: FastifyReply, r: Rendered): FastifyReply {
  if (r.headers) reply.headers(r.headers);
  return reply.code(r.httpStatus).header('content-type', JSON_TYPE).send(JSON.stringify(r.body));
}

/** Logs a 5xx with the cause the client does not see; 4xx only at debug. */
export function logFailure(log: Logger, req: FastifyRequest, error: unknown, r: Rendered): void {
  if (r.errorId !== undefined) {
    log.error(
      { err: error, errorId: r.errorId, requestId: req.id, route: req.routeOptions.url, code: codeName(r.body.code) },
      'request failed',
    );
  } else if (log.isLevelEnabled('debug')) {
    log.debug({ requestId: req.id, status: r.httpStatus, message: r.body.message }, 'request refused');
  }
}

/**
 * Every failure, whoever raises it — a route, a hook, a plugin, Fastify's
 * body parser or router — answers with a `google.rpc.Status` body.
 */
export function installErrorHandling(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((error, req, reply) => {
    const r = render(error);
    logFailure(log, req, error, r);
    return sendRendered(reply, r);
  });
  app.setNotFoundHandler((req, reply) => {
    const body: StatusBody = {
      code: Code.NOT_FOUND,
      message: `no route for ${req.method} ${clip(pathOf(req.url))}`,
      details: [],
    };
    return reply.code(404).header('content-type', JSON_TYPE).send(JSON.stringify(body));
  });
}

/** Fastify's `frameworkErrors` option: a URL that does not decode, and the like. */
export function frameworkErrors(error: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const status = typeof error.statusCode === 'number' && error.statusCode < 500 ? error.statusCode : 400;
  const body: StatusBody = { code: codeOfHttpStatus(status), message: 'the request URL is malformed', details: [] };
  void reply.code(status).header('content-type', JSON_TYPE).send(JSON.stringify(body));
}

/** Fastify's `clientErrorHandler`: an HTTP request that does not even parse. */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) return;
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const body = JSON.stringify({ code: codeOfHttpStatus(status), message: 'malformed HTTP request', details: [] });
  socket.end(
    `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\n` +
      `Connection: close\r\nContent-Type: ${JSON_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function clip(s: string): string {
  return s.length > MAX_MESSAGE ? `${s.slice(0, MAX_MESSAGE)}…` : s;
}
