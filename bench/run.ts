// `npm run bench [-- <name filter>]`: runs every bench/*.bench.ts, one fresh
// Node process each, one after another. Benchmarks never run in tests.
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
const benches = (await readdir(here)).filter((f) => f.endsWith('.bench.ts') && (!filter || f.includes(filter))).sort();
if (benches.length === 0) {
  console.error(`no benchmark matches ${JSON.stringify(filter)}`);
  process.exit(1);
}
for (const file of benches) {
  console.log(`\n=== ${file} ===`);
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [join(here, file)], { stdio: 'inherit' });
    child.on('exit', resolve);
  });
  if (code !== 0) {
    console.error(`${file} failed (exit ${code})`);
    process.exit(1);
  }
}
