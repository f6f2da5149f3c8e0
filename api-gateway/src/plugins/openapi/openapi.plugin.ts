import type { Registry } from '@bufbuild/protobuf';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Route } from '../../routing/route-table.ts';
import { buildOpenApiDocument, type OpenApiOptions, type OwnOperation } from './openapi-document.ts';

export interface OpenApiPluginOptions {
  /** The compiled route table: one operation per binding. */
  readonly routes: readonly Route[];
  readonly registry: Registry;
  readonly info?: OpenApiOptions;
  /** The routes the gateway serves itself, to list beside the RPCs'. */
  readonly own?: readonly OwnOperation[];
}

/**
 * Serves the generated document at `/openapi.json` and Swagger UI at
 * `/docs`. `@fastify/swagger` runs in static mode: the document comes from
 * the descriptors (openapi-document.ts), not from Fastify route schemas, and
 * is built once, here. No `servers` entry: Swagger UI then calls the origin
 * it was loaded from, so "Try it out" works against whichever gateway
 * serves it.
 */
async function openApi(app: FastifyInstance, opts: OpenApiPluginOptions): Promise<void> {
  for (const key of ['title', 'version', 'description'] as const) {
    const value = opts.info?.[key];
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      throw new TypeError(`gateway: openApi.${key} must be a non-empty string`);
    }
  }
  const document = buildOpenApiDocument(opts.routes, opts.registry, opts.info, opts.own);
  await app.register(fastifySwagger, {
    mode: 'static',
    specification: { document: document as never },
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true, tryItOutEnabled: false, persistAuthorization: false },
  });
  const text = JSON.stringify(document);
  app.get('/openapi.json', (_req, reply) => {
    void reply.header('content-type', 'application/json; charset=utf-8').send(text);
  });
}

export const openApiPlugin = fp(openApi, { name: 'messenger-openapi', fastify: '5.x' });
