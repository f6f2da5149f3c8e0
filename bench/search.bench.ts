// Message search benchmark: BENCH_SEARCH_MESSAGES (100,000) messages over
// BENCH_SEARCH_CHATS (50) group chats in the embedded SQLite chat store,
// texts of 4-20 words drawn from a 5,000-word vocabulary with a Zipf-like
// skew (a few words are in a third of all messages, most in a handful).
// Then SearchMessages as a member of every chat calls it (use cases and
// store in this process, no transport): BENCH_SEARCH_ROUNDS (20) rounds of
// a fixed set of queries — common, mid-frequency and rare words, several
// words at once, a second page, one chat only — with p50/p99 per kind and
// over all. `npm run bench -- search`.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Chat } from '../services/chat/src/domain/chat.ts';
import { messageCreated } from '../services/chat/src/domain/chat.ts';
import { createChatUseCases } from '../services/chat/src/domain/chat-use-cases.ts';
import { chatEventEntry } from '../services/chat/src/events/chat-events.ts';
import { withEventEncoding } from '../services/chat/src/store/chat-store.ts';
import { SqliteChatStore } from '../services/chat/src/store/sqlite/sqlite-chat-store.ts';
import { percentile } from './percentile.ts';

const MESSAGES = Number(process.env.BENCH_SEARCH_MESSAGES ?? 100_000);
const CHATS = Number(process.env.BENCH_SEARCH_CHATS ?? 50);
const ROUNDS = Number(process.env.BENCH_SEARCH_ROUNDS ?? 20);
const VOCABULARY = 5000;

// A seeded generator (mulberry32), so every run searches the same texts.
let seed = 42;
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
};
/** Word i of the vocabulary: distinct, pronounceable, some with an accent. */
const wordAt = (i: number) => {
  const syllables = ['ka', 'lo', 'mi', 'ré', 'su', 'ten', 'va', 'dor', 'pe', 'ny'];
  let word = '';
  let n = i + 10;
  while (n > 0) {
    word += syllables[n % 10];
    n = Math.floor(n / 10);
  }
  return word;
};
// Zipf-like: rank r drawn with weight 1/r.
const weights = Array.from({ length: VOCABULARY }, (_, r) => 1 / (r + 1));
const total = weights.reduce((a, b) => a + b, 0);
const cumulative: number[] = [];
weights.reduce((sum, w, i) => {
  cumulative[i] = (sum + w) / total;
  return sum + w;
}, 0);
const drawWord = () => {
  const x = random();
  let lo = 0;
  let hi = VOCABULARY - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((cumulative[mid] ?? 1) < x) lo = mid + 1;
    else hi = mid;
  }
  return wordAt(lo);
};

const dir = mkdtempSync(join(tmpdir(), 'search-bench-'));
try {
  const raw = SqliteChatStore.open(join(dir, 'chat.db'));
  const store = withEventEncoding(raw, chatEventEntry);
  const me = randomUUID();
  const others = Array.from({ length: 9 }, () => randomUUID());
  const start = Date.parse('2026-01-01T00:00:00Z');
  const chats: Chat[] = [];
  for (let c = 0; c < CHATS; c++) {
    const time = new Date(start);
    const chat: Chat = {
      id: randomUUID(),
      type: 'group',
      title: `chat ${c}`,
      description: '',
      avatarUrl: '',
      ownerId: me,
      directKey: '',
      members: [me, ...others].map((userId, i) => ({
        userId,
        role: i === 0 ? 'owner' : 'member',
        nickname: `u${i}`,
        avatarUrl: '',
        joinTime: time,
        profileTime: undefined,
      })),
      createTime: time,
      lastActivityTime: time,
      lastSequence: 0,
      version: 1,
    };
    await store.createChat(chat, [{ kind: 'chat_created', chat, time, requestId: 'bench' }]);
    chats.push(chat);
  }

  const loadStart = performance.now();
  for (let i = 0; i < MESSAGES; i++) {
    const chat = chats[i % CHATS] as Chat;
    const words = Array.from({ length: 4 + Math.floor(random() * 17) }, drawWord);
    await store.appendMessage(
      {
        id: randomUUID(),
        chatId: chat.id,
        senderId: (chat.members[i % 10] ?? chat.members[0])?.userId ?? me,
        clientMessageId: randomUUID(),
        text: `${words.join(' ')}.`,
        createTime: new Date(start + i * 1000),
      },
      (message, memberIds) => messageCreated(message, memberIds, 'bench'),
    );
  }
  const loadS = (performance.now() - loadStart) / 1000;
  console.log(`loaded ${MESSAGES} messages in ${CHATS} chats in ${loadS.toFixed(1)} s`);

  const useCases = createChatUseCases({
    store,
    users: {
      getProfiles: async () => new Map(),
    },
    friends: {
      relation: async () => ({ friends: true, blocked: false }),
    },
  } as unknown as Parameters<typeof createChatUseCases>[0]);
  const meta = { actor: { kind: 'user', userId: me, sessionId: randomUUID(), roles: [] }, requestId: 'bench' } as never;

  const kinds: { name: string; query: string; chatId?: string; secondPage?: boolean }[] = [
    { name: 'most common word', query: wordAt(0) },
    { name: 'common word (rank 10)', query: wordAt(10) },
    { name: 'mid word (rank 300)', query: wordAt(300) },
    { name: 'rare word (rank 4000)', query: wordAt(4000) },
    { name: 'unknown word', query: 'zzzzqx' },
    { name: '3 words, common + mid + rare', query: `${wordAt(1)} ${wordAt(300)} ${wordAt(4000)}` },
    { name: '8 words, mixed', query: [0, 5, 50, 200, 800, 1500, 3000, 4500].map(wordAt).join(' ') },
    { name: 'common word, second page', query: wordAt(2), secondPage: true },
    { name: 'common word, one chat', query: wordAt(0), chatId: (chats[0] as Chat).id },
  ];
  const samples = new Map<string, number[]>(kinds.map((k) => [k.name, []]));
  const counts = new Map<string, number>();
  for (let round = 0; round < ROUNDS + 1; round++) {
    for (const kind of kinds) {
      const base = { query: kind.query, chatId: kind.chatId ?? '', pageSize: 0 };
      const token = kind.secondPage
        ? (await useCases.searchMessages(meta, { ...base, pageToken: '' })).nextPageToken
        : '';
      const t0 = performance.now();
      const page = await useCases.searchMessages(meta, { ...base, pageToken: token });
      const ms = performance.now() - t0;
      // Round 0 warms the caches and the JIT up.
      if (round > 0) samples.get(kind.name)?.push(ms);
      counts.set(kind.name, page.items.length);
    }
  }

  console.log('query                              results   p50 ms   p99 ms');
  const all: number[] = [];
  for (const kind of kinds) {
    const s = (samples.get(kind.name) ?? []).sort((a, b) => a - b);
    all.push(...s);
    console.log(
      `${kind.name.padEnd(34)} ${String(counts.get(kind.name)).padStart(7)} ${percentile(s, 50).toFixed(2).padStart(8)} ${percentile(s, 99).toFixed(2).padStart(8)}`,
    );
  }
  all.sort((a, b) => a - b);
  console.log(
    `${'all queries'.padEnd(34)} ${''.padStart(7)} ${percentile(all, 50).toFixed(2).padStart(8)} ${percentile(all, 99).toFixed(2).padStart(8)}`,
  );
  raw.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
