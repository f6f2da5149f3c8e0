import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** Where the example client is served (examples/chat in the repository). */
export const EXAMPLE_CLIENT_PATH = '/examples/chat';

const FILES_DIR = new URL('../../../examples/chat/', import.meta.url);

/**
 * The page may load only its own script, style and images (avatars are
 * served by this gateway), and talk only to this origin (fetch and the
 * WebSocket); no inline code, no framing.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  // data: for the page's empty icon, so the browser asks for no /favicon.ico.
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const FILES: readonly { path: string; file: string; type: string }[] = [
  { path: EXAMPLE_CLIENT_PATH, file: 'index.html', type: 'text/html; charset=utf-8' },
  { path: `${EXAMPLE_CLIENT_PATH}/app.js`, file: 'app.js', type: 'text/javascript; charset=utf-8' },
  { path: `${EXAMPLE_CLIENT_PATH}/style.css`, file: 'style.css', type: 'text/css; charset=utf-8' },
];

/**
 * The example client (a static page that runs a whole session over the
 * public API, docs/API.md) at `/examples/chat`. Three small files, read once
 * at start-up: a missing file fails the start, not a request.
 */
async function exampleClient(app: FastifyInstance): Promise<void> {
  for (const { path, file, type } of FILES) {
    const body = readFileSync(new URL(file, FILES_DIR));
    app.get(path, (_req, reply) => {
      void reply
        .header('content-type', type)
        .header('content-security-policy', CONTENT_SECURITY_POLICY)
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'no-cache')
        .send(body);
    });
  }
}

export const exampleClientRoutes = fp(exampleClient, { name: 'example-client' });
