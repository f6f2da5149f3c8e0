// Where the embedded mode keeps what must survive a restart: with
// EMBEDDED_STORAGE=sqlite, one SQLite file per owner in the data directory
// (auth.db, user.db, subscriber.db, chat.db, revocations.db), the signing
// keys next to them, and lock.db, held while the process runs.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type AuthStore, MemoryAuthStore, SqliteAuthStore } from '@messenger/auth';
import { type ChatStore, MemoryChatStore, SqliteChatStore } from '@messenger/chat';
import { type DeviceStore, MemoryDeviceStore, SqliteDeviceStore } from '@messenger/notification';
import {
  generateSigningKeyRing,
  InMemoryRevocationList,
  importSigningKeyRing,
  type RevocationList,
  type SigningKeyRing,
} from '@messenger/platform/auth';
import { lockDirectory, SqliteRevocationList } from '@messenger/platform/sqlite';
import { type FriendshipStore, MemoryFriendshipStore, SqliteFriendshipStore } from '@messenger/subscriber';
import { MemoryUserStore, SqliteUserStore, type UserStore } from '@messenger/user';
import type { EmbeddedConfig } from './config.ts';

export interface EmbeddedStorage {
  /** The absolute data directory; undefined when everything is in memory. */
  readonly dataDir: string | undefined;
  readonly auth: AuthStore;
  readonly user: UserStore;
  readonly subscriber: FriendshipStore;
  readonly chat: ChatStore;
  readonly notification: DeviceStore;
  readonly revocations: RevocationList;
  readonly keys: SigningKeyRing;
  /** Closes the files and releases the data directory; after every service has stopped. */
  close(): void;
}

/** A start-up problem with the data directory, said so that the operator can act on it. */
export class StorageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StorageError';
  }
}

/**
 * Opens the stores `config.embedded.storage` names, and the signing keys:
 * those AUTH_SIGNING_KEYS sets; otherwise, with SQLite, the data directory's
 * own (generated on first start), so tokens issued before a restart still
 * verify after it; in memory, a fresh ring. What it opened is closed again
 * when a later step fails.
 */
export async function openEmbeddedStorage(config: EmbeddedConfig): Promise<EmbeddedStorage> {
  const { storage, dataDir } = config.embedded;
  const configuredKeys = config.auth.signingKeys === 'generate' ? undefined : config.auth.signingKeys;
  if (storage === 'memory') {
    const revocations = new InMemoryRevocationList();
    return {
      dataDir: undefined,
      auth: new MemoryAuthStore(),
      user: new MemoryUserStore(),
      subscriber: new MemoryFriendshipStore(),
      chat: new MemoryChatStore(),
      notification: new MemoryDeviceStore(),
      revocations,
      keys: configuredKeys ? await importSigningKeyRing(configuredKeys) : await generateSigningKeyRing(),
      close: () => revocations.close(),
    };
  }

  const dir = resolve(dataDir);
  const opened: { close(): void }[] = [];
  const closeAll = () => {
    for (const part of opened.reverse()) part.close();
  };
  try {
    // Owner only: the files hold password hashes and the signing keys. An existing directory keeps its mode.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const lock = lockDirectory(dir);
    opened.push({ close: () => lock.release() });
    const auth = SqliteAuthStore.open(join(dir, 'auth.db'));
    opened.push(auth);
    const user = SqliteUserStore.open(join(dir, 'user.db'));
    opened.push(user);
    const subscriber = SqliteFriendshipStore.open(join(dir, 'subscriber.db'));
    opened.push(subscriber);
    const chat = SqliteChatStore.open(join(dir, 'chat.db'));
    opened.push(chat);
    const notification = SqliteDeviceStore.open(join(dir, 'notification.db'));
    opened.push(notification);
    const revocations = SqliteRevocationList.open(join(dir, 'revocations.db'));
    opened.push(revocations);
    const keys = configuredKeys ? await importSigningKeyRing(configuredKeys) : await dataDirKeys(dir);
    return { dataDir: dir, auth, user, subscriber, chat, notification, revocations, keys, close: closeAll };
  } catch (error) {
    closeAll();
    throw error;
  }
}

/**
 * The data directory's signing keys, `signing-keys.json` (private JWKs,
 * readable by the owner only): read when present, else generated and
 * written, created exclusively under a temporary name and then renamed, so
 * a crash never leaves half a key file.
 */
async function dataDirKeys(dir: string): Promise<SigningKeyRing> {
  const file = join(dir, 'signing-keys.json');
  if (existsSync(file)) {
    try {
      return await importSigningKeyRing(readFileSync(file, 'utf8'));
    } catch (error) {
      // The import's message never echoes the key material.
      const problem = error instanceof Error ? error.message : String(error);
      throw new StorageError(
        `${file}: ${problem}; restore it from a backup, or delete it to start with new keys (every signed-in session then ends)`,
        { cause: error },
      );
    }
  }
  const keys = await generateSigningKeyRing();
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${await keys.exportPrivateJwks()}\n`, { mode: 0o600, flag: 'wx' });
  renameSync(temporary, file);
  return keys;
}
