// `make reset`: deletes the embedded mode's data (DATA_DIR, default ./.data):
// every account, session, revoked session, profile, friendship, chat and
// message, the signing keys, and uploaded media (the `media` directory).
// Refuses while a `make run` holds the directory, and deletes only the files
// the embedded mode writes, so a DATA_DIR pointing at the wrong directory
// loses nothing else.
import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '@messenger/platform/config';
import { lockDirectory, SqliteOpenError } from '@messenger/platform/sqlite';
import { embeddedSettings } from './config.ts';

/** What the embedded mode writes into its data directory (SQLite adds -wal, -shm and -journal files). */
const OURS =
  /^(auth|user|subscriber|chat|notification|revocations|lock)\.db(-wal|-shm|-journal)?$|^signing-keys\.json(\.\d+\.tmp)?$/;

/** Uploaded media, kept by the embedded gateway's filesystem blob store (embedded/src/system.ts). */
const MEDIA_DIR = 'media';

const dir = resolve(loadConfig(embeddedSettings, process.env).dataDir);
if (!existsSync(dir)) {
  process.stdout.write(`reset: ${dir} does not exist; nothing to delete\n`);
  process.exit(0);
}
let lock: ReturnType<typeof lockDirectory>;
try {
  lock = lockDirectory(dir);
} catch (error) {
  if (!(error instanceof SqliteOpenError)) throw error;
  process.stderr.write(`reset: ${error.message}\n`);
  process.exit(1);
}
const files = readdirSync(dir).filter((name) => OURS.test(name) && name !== 'lock.db');
for (const name of files) rmSync(join(dir, name));
const media = join(dir, MEDIA_DIR);
const mediaFiles = existsSync(media)
  ? readdirSync(media, { recursive: true, withFileTypes: true }).filter((e) => !e.isDirectory()).length
  : 0;
rmSync(media, { recursive: true, force: true });
lock.release();
rmSync(join(dir, 'lock.db'), { force: true });
const others = readdirSync(dir);
if (others.length === 0) rmdirSync(dir);
process.stdout.write(
  `reset: deleted ${files.length + mediaFiles} files from ${dir}${others.length > 0 ? `; left what it does not own: ${others.join(', ')}` : ''}\n`,
);
