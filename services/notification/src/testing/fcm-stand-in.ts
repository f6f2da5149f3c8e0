// Tests only: a protocol stand-in for Google's FCM HTTP v1 API and OAuth 2.0
// token endpoint, on loopback. The token endpoint accepts only the
// jwt-bearer grant with an RS256 assertion signed by the service account's
// key (issuer, audience, scope and expiry checked) and issues an access
// token; `messages:send` accepts only that bearer token and a well-formed
// v1 message, and records it. Never imported by production code.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { importSPKI, jwtVerify } from 'jose';

export interface FcmStandIn {
  readonly baseUrl: string;
  readonly tokenUrl: string;
  readonly projectId: string;
  readonly clientEmail: string;
  /** PKCS#8 PEM of the service account. */
  readonly privateKey: string;
  /** Each accepted send request's `message`. */
  readonly sent: Record<string, unknown>[];
  /** Requests refused, with why. */
  readonly refused: string[];
  /** How many access tokens were issued. */
  tokensIssued(): number;
  /** Answers sends to this registration token with `status` and an FCM error body with `errorCode`. */
  answer(token: string, status: number, errorCode?: string): void;
  close(): Promise<void>;
}

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';

export async function startFcmStandIn(): Promise<FcmStandIn> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const verifyKey = await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'RS256');
  const projectId = `project-${randomUUID().slice(0, 8)}`;
  const clientEmail = `push@${projectId}.iam.gserviceaccount.test`;
  const accessTokens = new Set<string>();
  const answers = new Map<string, { status: number; errorCode: string | undefined }>();
  const sent: Record<string, unknown>[] = [];
  const refused: string[] = [];

  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const reply = (status: number, json: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    try {
      if (req.method === 'POST' && req.url === '/token') {
        const form = new URLSearchParams(body);
        if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') throw new Error('grant_type');
        const { payload } = await jwtVerify(form.get('assertion') ?? '', verifyKey, {
          issuer: clientEmail,
          audience: tokenUrl,
          algorithms: ['RS256'],
        });
        if (payload.scope !== SCOPE) throw new Error(`scope ${String(payload.scope)}`);
        if (typeof payload.exp !== 'number' || typeof payload.iat !== 'number' || payload.exp - payload.iat > 3600) {
          throw new Error('assertion lifetime');
        }
        const token = `ya29.${randomUUID()}`;
        accessTokens.add(token);
        reply(200, { access_token: token, expires_in: 3599, token_type: 'Bearer' });
        return;
      }
      if (req.method === 'POST' && req.url === `/v1/projects/${projectId}/messages:send`) {
        const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        if (!bearer || !accessTokens.has(bearer)) {
          refused.push('bearer token');
          reply(401, { error: { code: 401, status: 'UNAUTHENTICATED' } });
          return;
        }
        if (req.headers['content-type'] !== 'application/json') throw new Error('content-type');
        const { message } = JSON.parse(body) as { message?: Record<string, unknown> };
        if (!message || typeof message.token !== 'string') throw new Error('message.token');
        const data = message.data as Record<string, unknown> | undefined;
        if (!data || Object.values(data).some((v) => typeof v !== 'string'))
          throw new Error('data values must be strings');
        const answer = answers.get(message.token);
        if (answer) {
          const details = answer.errorCode
            ? [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: answer.errorCode }]
            : [];
          reply(answer.status, { error: { code: answer.status, details } });
          return;
        }
        sent.push(message);
        reply(200, { name: `projects/${projectId}/messages/${randomUUID()}` });
        return;
      }
      reply(404, { error: { code: 404 } });
    } catch (error) {
      refused.push(error instanceof Error ? error.message : String(error));
      reply(400, { error: { code: 400, status: 'INVALID_ARGUMENT' } });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tokenUrl = `${baseUrl}/token`;
  return {
    baseUrl,
    tokenUrl,
    projectId,
    clientEmail,
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    sent,
    refused,
    tokensIssued: () => accessTokens.size,
    answer(token, status, errorCode) {
      answers.set(token, { status, errorCode });
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
