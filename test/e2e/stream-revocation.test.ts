// A StreamUpdates call opened directly on the chat service's gRPC port, with
// a user's access token, ends when that user's session ends: the whole
// embedded system, logged out through the gateway as a client would.
import { credentials, Metadata, status } from '@grpc/grpc-js';
import { loadEmbeddedConfig, type RunningSystem, startSystem } from '@messenger/embedded';
import { ChatServiceClient, type StreamUpdatesResponse } from '@messenger/gen/messenger/chat/v1/chat';
import { Gateway } from './support/http.ts';
import { SYSTEM_ENV } from './support/system.ts';
import { waitFor } from './support/wait.ts';

interface OpenStream {
  heartbeats: number;
  ended?: { code: number; details: string };
  cancel(): void;
}

describe('chat update streams and session revocation', () => {
  let system: RunningSystem;
  let gw: Gateway;
  let chat: ChatServiceClient;
  const streams: OpenStream[] = [];

  beforeAll(async () => {
    system = await startSystem(
      loadEmbeddedConfig({
        ...SYSTEM_ENV,
        CHAT_STREAM_HEARTBEAT_MS: '50',
      }),
    );
    gw = new Gateway(system.gatewayUrl);
    const port = system.services.find((s) => s.name === 'chat')?.port;
    chat = new ChatServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });
  afterAll(async () => {
    for (const s of streams) s.cancel();
    chat?.close();
    await system?.stop();
  });

  const open = async (accessToken: string): Promise<OpenStream> => {
    const md = new Metadata();
    md.set('authorization', `Bearer ${accessToken}`);
    const call = chat.streamUpdates({ resumeAfter: '' }, md);
    const stream: OpenStream = { heartbeats: 0, cancel: () => call.cancel() };
    call.on('data', (res: StreamUpdatesResponse) => {
      if (res.update?.heartbeat) stream.heartbeats++;
    });
    call.on('status', (s) => {
      stream.ended = { code: s.code, details: s.details };
    });
    call.on('error', () => {});
    streams.push(stream);
    await waitFor('the stream to be open', () => stream.heartbeats > 0);
    return stream;
  };

  it('ends the logged-out session’s stream with UNAUTHENTICATED; another session’s stays open', async () => {
    const ann = await gw.register('ann');
    const otherSession = await gw.login(ann);
    const loggedOut = await open(ann.accessToken);
    const other = await open(otherSession);

    await gw.ok('POST', '/v1/auth/logout', ann.accessToken, { allSessions: false });

    await waitFor('the logged-out stream to end', () => loggedOut.ended !== undefined, 5_000);
    expect(loggedOut.ended?.code).toBe(status.UNAUTHENTICATED);
    expect(loggedOut.ended?.details).toBe('the session ended; sign in again');
    // The other session's stream keeps delivering.
    const seen = other.heartbeats;
    await waitFor('the other stream to keep delivering', () => other.heartbeats > seen + 2);
    expect(other.ended).toBeUndefined();
  });
});
