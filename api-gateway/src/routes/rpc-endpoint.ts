import type { Registry } from '@bufbuild/protobuf';
import type { FastifyRequest } from 'fastify';
import { Code, codeName, decodeStatusDetails, GatewayError, httpStatusOf } from '../errors/status.ts';
import { createRequestMarshaller, type RequestMarshaller } from '../marshal/request.ts';
import { createResponseMarshaller, type ResponseMarshaller } from '../marshal/response.ts';
import type { Route } from '../routing/route-table.ts';
import { outgoingMetadata } from '../upstream/metadata.ts';
import type { Upstream, UpstreamStatus } from '../upstream/upstream.ts';

/** One routed RPC with what its handler needs, unary or streaming alike. */
export interface RpcEndpoint {
  readonly route: Route;
  readonly requestMarshaller: RequestMarshaller;
  readonly responseMarshaller: ResponseMarshaller;
  readonly upstream: Upstream;
  /** The metadata of the upstream call for one request. */
  metadataOf(req: FastifyRequest): Record<string, string>;
  /** What the client gets for a call that ended with a status other than OK. */
  errorOf(status: UpstreamStatus): GatewayError;
}

/** Built once per route at start-up: marshallers compiled from the descriptors. */
export function createRpcEndpoint(route: Route, registry: Registry, upstream: Upstream, realm: string): RpcEndpoint {
  return {
    route,
    requestMarshaller: createRequestMarshaller(route, registry),
    responseMarshaller: createResponseMarshaller(route.output, route.responseBody, registry),
    upstream,
    metadataOf: (req) => outgoingMetadata(req.headers, req.id, req.ip),
    errorOf: (status) => upstreamError(status, route.method.path, registry, realm),
  };
}

/** What the client gets for an upstream call to `path` that ended with a status other than OK. */
export function upstreamError(status: UpstreamStatus, path: string, registry: Registry, realm: string): GatewayError {
  const { code } = status;
  if (httpStatusOf(code) >= 500) {
    // Logged under an error id by the error handler; the client sees neither text nor details.
    return new GatewayError(code as Code, `${path} failed with ${codeName(code)}: ${status.message}`);
  }
  const headers =
    code === Code.UNAUTHENTICATED
      ? { 'www-authenticate': `Bearer realm="${realm}", error="invalid_token"` }
      : undefined;
  return new GatewayError(code as Code, status.message || codeName(code), {
    details: decodeStatusDetails(status.details, registry),
    headers,
  });
}
