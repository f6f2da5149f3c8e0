// Generates the configuration reference in docs/OPERATIONS.md from the
// settings schemas (platform `Setting`s), so the documentation cannot drift
// from what the processes read.
//
//   node scripts/config-reference.ts           rewrite the generated section
//   node scripts/config-reference.ts --check   exit 1 when it is stale
//
// test/deploy/config-reference.test.ts runs the check in `make test`.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigSpec, Setting } from '@messenger/platform/config';
import { runtimeSettings, serviceAddressSettings } from '@messenger/platform/runtime';
import { embeddedSettings } from '../embedded/src/config.ts';
import { isPresent, loadSettings, PROCESSES, ROOT } from './deploy/processes.ts';

export const OPERATIONS_MD = join(ROOT, 'docs', 'OPERATIONS.md');
export const BEGIN = '<!-- BEGIN GENERATED config-reference: edit the schemas, then `make config-docs` -->';
export const END = '<!-- END GENERATED config-reference -->';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function defaultOf(s: Setting<unknown>): string {
  if (s.defaultValue === undefined) return '**required**';
  if (s.secret) return '*secret — has a default, never shown*';
  if (s.defaultValue === '') return '*(empty)*';
  return `\`${s.defaultValue}\``;
}

function table(settings: readonly Setting<unknown>[]): string {
  const rows = settings.map(
    (s) => `| \`${s.env}\`${s.secret ? ' 🔒' : ''} | ${defaultOf(s)} | ${cell(s.description)} |`,
  );
  return ['| Variable | Default | Description |', '|---|---|---|', ...rows].join('\n');
}

const shared: ReadonlyMap<string, Setting<unknown>> = new Map(
  Object.values(runtimeSettings as ConfigSpec).map((s) => [s.env, s]),
);
const addresses: ReadonlyMap<string, Setting<unknown>> = new Map(
  Object.values(serviceAddressSettings as ConfigSpec).map((s) => [s.env, s]),
);

/** The generated section, markers included. */
export async function renderReference(): Promise<string> {
  const out: string[] = [BEGIN, ''];
  out.push(
    'Every variable below is read once at start-up; a bad value stops the process with every problem listed. ' +
      'Empty counts as unset. 🔒 marks secrets: their values (and defaults) are never printed — take them from a ' +
      'secret store (Kubernetes Secret, `.env` for compose).',
    '',
    '### Shared by every process',
    '',
    table([...shared.values()]),
    '',
    '### Service addresses (read by the processes that call each service)',
    '',
    table([...addresses.values()]),
    '',
  );
  for (const p of PROCESSES) {
    out.push(`### ${p.name} — \`node ${[...p.nodeFlags, p.entry].join(' ')}\``, '');
    if (!isPresent(p)) {
      out.push(`*Not in this checkout yet (\`${p.configModule}\`); rerun \`make config-docs\` when it lands.*`, '');
      continue;
    }
    const spec = await loadSettings(p);
    const own: Setting<unknown>[] = [];
    const reads: string[] = [];
    for (const s of Object.values(spec)) {
      if (shared.get(s.env) === s) continue;
      if (addresses.get(s.env) === s) reads.push(`\`${s.env}\``);
      else own.push(s);
    }
    const missingShared = [...shared.keys()].filter((env) => !Object.values(spec).some((s) => s.env === env));
    const notes = [`Schema: \`${p.configModule}\`.`];
    notes.push(
      missingShared.length === 0
        ? 'Reads every shared setting.'
        : `Reads the shared settings except ${missingShared.map((e) => `\`${e}\``).join(', ')}.`,
    );
    if (reads.length > 0) notes.push(`Service addresses: ${reads.join(', ')}.`);
    out.push(notes.join(' '), '');
    if (own.length > 0) out.push(table(own), '');
  }
  out.push(
    '### embedded — `node embedded/src/main.ts` (`make run`)',
    '',
    'Reads every setting of every process above (ports, log level, auth policy, gateway limits; the `*_STORE`, `*_WORKERS`, `EVENT_BUS` and `REVOCATION_STORE` settings do not apply), and its own:',
    '',
    table(Object.values(embeddedSettings as ConfigSpec)),
    '',
    END,
  );
  return out.join('\n');
}

/** `doc` with its generated section replaced by `reference`. */
export function splice(doc: string, reference: string): string {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/OPERATIONS.md: markers not found (${BEGIN} … ${END})`);
  return doc.slice(0, start) + reference + doc.slice(end + END.length);
}

async function main(argv: readonly string[]): Promise<number> {
  const doc = readFileSync(OPERATIONS_MD, 'utf8');
  const next = splice(doc, await renderReference());
  if (argv.includes('--check')) {
    if (next === doc) return 0;
    process.stderr.write('docs/OPERATIONS.md: the configuration reference is stale; run `make config-docs`\n');
    return 1;
  }
  if (next !== doc) writeFileSync(OPERATIONS_MD, next);
  process.stdout.write(`docs/OPERATIONS.md: configuration reference ${next === doc ? 'up to date' : 'regenerated'}\n`);
  return 0;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
