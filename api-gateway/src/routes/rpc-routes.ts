import type { Registry } from '@bufbuild/protobuf';
import type { Logger } from '@messenger/platform/logger';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Route } from '../routing/route-table.ts';
import type { Upstream } from '../upstream/upstream.ts';
import { createRpcEndpoint } from './rpc-endpoint.ts';
import type { StreamRegistry } from './stream-registry.ts';
import { createStreamHandler } from './streaming.ts';
import { createUnaryHandler, type DeadlineOptions, deadlinePolicyOf } from './unary.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's path template as written in the contract: the `route` label of metrics. */
    template?: string;
    /** The RPC an RPC route serves: the plugins take its policy (access, rate-limit class) from here. */
    rpc?: Route;
  }
}

export interface RpcRoutesOptions {
  /** The compiled route table. */
  readonly routes: readonly Route[];
  readonly registry: Registry;
  readonly upstream: Upstream;
  /** Where open streams are kept, so that logout and shutdown can end them and heartbeats reach them. */
  readonly streams: StreamRegistry;
  readonly deadlines?: DeadlineOptions;
  /** Where failures of streams are logged (those of other calls go through the error handler). */
  readonly log: Logger;
}

/**
 * One Fastify route per binding of the route table; server-streaming RPCs
 * answer as streams, the others as one JSON body. A route says which RPC it
 * serves in its config (`rpc`): the auth and rate-limit plugins, registered
 * before, attach their hooks from that as each route is added.
 */
async function rpcRoutes(app: FastifyInstance, opts: RpcRoutesOptions): Promise<void> {
  const deadlines = deadlinePolicyOf(opts.deadlines);
  for (const route of opts.routes) {
    const endpoint = createRpcEndpoint(route, opts.registry, opts.upstream, app.bearerRealm);
    app.route({
      method: route.httpMethod,
      url: route.routerPath,
      config: { template: route.template.source, rpc: route },
      handler: route.serverStreaming
        ? createStreamHandler(endpoint, opts.streams, opts.log)
        : createUnaryHandler(endpoint, deadlines, app.responseCache),
    });
  }
  // Streams never finish on their own: they end as shutdown begins, so that
  // closing waits only for ordinary requests in flight.
  app.addHook('preClose', (done) => {
    opts.streams.endAll('shutdown');
    done();
  });
}

export const rpcRoutesPlugin = fp(rpcRoutes, {
  name: 'messenger-rpc-routes',
  fastify: '5.x',
  // Their onRoute hooks must be in place before the first route is added.
  dependencies: ['messenger-auth', 'messenger-rate-limit', 'messenger-cache'],
  decorators: { fastify: ['bearerRealm', 'responseCache'] },
});
