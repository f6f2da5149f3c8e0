// A client of the gateway's live-update stream (GET /v1/updates) as
// Server-Sent Events, as a browser's EventSource reads it: one
// `data: {"update": …}` event per update. (The NDJSON form sends its
// response headers only with the first update, so a client cannot tell
// when the stream is open.)
import { waitFor } from './wait.ts';

export type Update = Record<string, unknown> & { updateId?: string };

export interface UpdateStream {
  /** Every update so far, heartbeats left out. */
  readonly updates: Update[];
  /** Resolves with the first update `match` accepts, waiting up to `timeoutMs`. */
  next(what: string, match: (u: Update) => boolean, timeoutMs?: number): Promise<Update>;
  close(): Promise<void>;
}

export async function openUpdateStream(gatewayUrl: string, accessToken: string): Promise<UpdateStream> {
  const abort = new AbortController();
  const res = await fetch(`${gatewayUrl}/v1/updates`, {
    headers: { authorization: `Bearer ${accessToken}`, accept: 'text/event-stream' },
    signal: abort.signal,
  });
  if (res.status !== 200 || !res.body) throw new Error(`GET /v1/updates: HTTP ${res.status} ${await res.text()}`);
  const updates: Update[] = [];
  let failure: unknown;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const reading = (async () => {
    let buffered = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffered += value;
      let end = buffered.indexOf('\n\n');
      while (end >= 0) {
        const lines = buffered.slice(0, end).split('\n');
        buffered = buffered.slice(end + 2);
        end = buffered.indexOf('\n\n');
        const event = lines.find((l) => l.startsWith('event: '))?.slice('event: '.length);
        const data = lines
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice('data: '.length))
          .join('\n');
        if (data === '') continue; // a comment (`:ok`, `: keep-alive`)
        if (event === 'error' || event === 'end') throw new Error(`stream ${event}: ${data}`);
        const update = (JSON.parse(data) as { update?: Update }).update;
        if (update && !('heartbeat' in update)) updates.push(update);
      }
    }
  })().catch((err: unknown) => {
    if (!abort.signal.aborted) failure = err;
  });
  return {
    updates,
    async next(what, match, timeoutMs = 15_000) {
      await waitFor(
        what,
        () => {
          if (failure !== undefined) throw failure;
          return updates.some(match);
        },
        timeoutMs,
      );
      return updates.find(match) as Update;
    },
    async close() {
      abort.abort();
      await reading.catch(() => {});
    },
  };
}
