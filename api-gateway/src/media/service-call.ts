// How a media route calls a service: one unary call through the gateway's
// upstream, with the caller's credential or, for the internal methods that
// admit the gateway only, the gateway's own (the request then names the
// user the gateway verified).
import type { Registry } from '@bufbuild/protobuf';
import type { ServiceTokenSource } from '@messenger/platform/auth';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Code } from '../errors/status.ts';
import { createResponseMarshaller, type ResponseMarshaller } from '../marshal/response.ts';
import { upstreamError } from '../routes/rpc-endpoint.ts';
import { outgoingMetadata } from '../upstream/metadata.ts';
import type { Upstream } from '../upstream/upstream.ts';

export interface ServiceCallOptions {
  readonly upstream: Upstream;
  readonly registry: Registry;
  /** How long each call may take. */
  readonly deadlineMs: number;
  /** The gateway's own credential. */
  readonly serviceToken: ServiceTokenSource;
}

export type Credential = 'caller' | 'gateway';

/** The response's bytes; a status other than OK becomes what the client gets. */
export async function callService(
  app: FastifyInstance,
  opts: ServiceCallOptions,
  req: FastifyRequest,
  call: { readonly service: string; readonly method: string; readonly request: Uint8Array; readonly as: Credential },
): Promise<Uint8Array> {
  const path = `/${call.service}/${call.method}`;
  const metadata = outgoingMetadata(req.headers, req.id, req.ip);
  if (call.as === 'gateway') metadata.authorization = `Bearer ${await opts.serviceToken.token()}`;
  const res = await opts.upstream.unary({
    service: call.service,
    path,
    request: call.request,
    metadata,
    deadline: Date.now() + opts.deadlineMs,
  }).result;
  if (res.status.code !== Code.OK || res.body === undefined) {
    throw upstreamError(res.status, path, opts.registry, app.bearerRealm);
  }
  return res.body;
}

/**
 * How a media route writes a service's answer: in the JSON every proxied
 * route gives. Throws at start-up when the contracts lack the message.
 */
export function answerMarshaller(opts: ServiceCallOptions, typeName: string): ResponseMarshaller {
  const message = opts.registry.getMessage(typeName);
  if (message === undefined) throw new Error(`gateway: the registry lacks ${typeName}`);
  return createResponseMarshaller(message, undefined, opts.registry);
}
