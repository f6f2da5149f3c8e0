// docs/API.md's AuthService table against the contract (gen/descriptor.binpb):
// every RPC listed once, with its route, access level and rate-limit class,
// and every RPC that is not safe to retry named among the unmarked ones.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getOption, hasOption } from '@bufbuild/protobuf';
import { Access, RateLimitClass } from '@messenger/gen/messenger/options/v1/options';
import { type ApiCatalog, loadMessengerCatalog, type MethodInfo } from '@messenger/platform/api-catalog';

const API_MD = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'docs', 'API.md');
const SERVICE = 'messenger.auth.v1.AuthService';

const ACCESS: Record<number, string> = {
  [Access.ACCESS_PUBLIC]: 'public',
  [Access.ACCESS_AUTHENTICATED]: 'authenticated',
  [Access.ACCESS_ADMIN]: 'admin',
  [Access.ACCESS_INTERNAL]: 'internal',
  [Access.ACCESS_INTERNAL_BOOTSTRAP]: 'internal (bootstrap)',
};
const RATE: Record<number, string> = {
  [RateLimitClass.RATE_LIMIT_CLASS_UNSPECIFIED]: 'default',
  [RateLimitClass.RATE_LIMIT_CLASS_DEFAULT]: 'default',
  [RateLimitClass.RATE_LIMIT_CLASS_STRICT]: 'strict',
  [RateLimitClass.RATE_LIMIT_CLASS_STREAM]: 'stream',
};

/** The rows of the table under `## AuthService`: RPC → its cells. */
function documentedRows(doc: string): Map<string, string[]> {
  const section = doc.slice(doc.indexOf('## AuthService'), doc.indexOf('## UserService'));
  const rows = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    if (!line.startsWith('| ') || line.startsWith('| RPC') || line.startsWith('| ---')) continue;
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    const [name = ''] = cells;
    if (rows.has(name)) throw new Error(`docs/API.md lists ${name} twice`);
    rows.set(name, cells);
  }
  return rows;
}

function routeOf(catalog: ApiCatalog, method: MethodInfo): string {
  const http = catalog.registry.getExtension('google.api.http');
  if (!http || !hasOption(method.descriptor, http)) return '—';
  const rule = getOption(method.descriptor, http) as { pattern: { case: string; value: string } };
  return `\`${rule.pattern.case.toUpperCase()} ${rule.pattern.value}\``;
}

describe('docs/API.md, AuthService', () => {
  it('lists every RPC with the route, access and rate-limit class of the contract', async () => {
    const catalog = await loadMessengerCatalog();
    const doc = readFileSync(API_MD, 'utf8');
    const rows = documentedRows(doc);
    const methods = [...catalog.methods()].filter((m) => m.service === SERVICE);
    expect([...rows.keys()].sort()).toEqual(methods.map((m) => m.name).sort());
    for (const m of methods) {
      const [, route, access, , rate] = rows.get(m.name) ?? [];
      expect({ rpc: m.name, route, access, rate }).toEqual({
        rpc: m.name,
        route: routeOf(catalog, m),
        access: ACCESS[m.access],
        rate: RATE[m.rateLimit],
      });
    }
    const unmarked = doc.slice(doc.indexOf('Unmarked:'), doc.indexOf('Columns:'));
    for (const m of methods.filter((x) => !x.idempotent))
      expect({ rpc: m.name, unmarked }).toEqual({
        rpc: m.name,
        unmarked: expect.stringContaining(`\`${m.name}\``),
      });
  });
});
