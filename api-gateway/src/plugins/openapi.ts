import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/**
 * Serves the generated document at `/openapi.json` and Swagger UI at
 * `/docs`. `@fastify/swagger` runs in static mode: the document comes from
 * the descriptors (openapi-document.ts), not from Fastify route schemas.
 * No `servers` entry: Swagger UI then calls the origin it was loaded from,
 * so "Try it out" works against whichever gateway serves it.
 */
export async function registerOpenApi(app: FastifyInstance, document: Record<string, unknown>): Promise<void> {
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
