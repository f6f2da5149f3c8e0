// The gateway against Go grpc-gateway on the same upstream: runs the anchor kit
// in ../shared/bench/grpc-gateway-anchor (Go grpc-gateway generated from this
// repository's proto/, the `upstream` role of bench/gateway-processes.ts, wrk)
// and prints its summary table and the ratios. Loopback only, bounded by the
// kit's own timeouts. Never part of `make test`.
//
// It measures the committed HEAD: the kit writes helper files into the clone
// it is given, so this bench makes a fresh clone (and `make setup` in it)
// under ANCHOR_CLONE (default /tmp/messenger-anchor-clone), never this tree.
// Needs Go, protoc, the Debian grpc-gateway packages and wrk; when any is
// missing it says how to install them and exits without measuring.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GATEWAY_NODE_FLAGS } from '../scripts/deploy/processes.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const kit = resolve(process.env.ANCHOR_KIT ?? join(root, '../shared/bench/grpc-gateway-anchor'));
const clone = process.env.ANCHOR_CLONE ?? '/tmp/messenger-anchor-clone';
const INSTALL = [
  'apt-get update',
  'apt-get install -y --no-install-recommends golang-go golang-google-grpc-dev \\',
  '  golang-github-grpc-ecosystem-grpc-gateway-dev golang-grpc-gateway golang-goprotobuf-dev \\',
  '  golang-google-genproto-dev protobuf-compiler wrk curl',
].join('\n');

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const missing = ['go', 'protoc', 'protoc-gen-go', 'protoc-gen-grpc-gateway', 'wrk', 'curl'].filter((c) => !has(c));
if (!existsSync(join(kit, 'run.sh'))) {
  console.log(`anchor: no kit at ${kit} (set ANCHOR_KIT); skipped`);
  process.exit(0);
}
if (missing.length > 0) {
  console.log(`anchor: missing ${missing.join(', ')}; skipped. Install with:\n${INSTALL}`);
  process.exit(0);
}

// The kit's Node helpers import the platform's root, which the platform no
// longer exports: run a copy of the kit with those imports on their subpaths.
const kitCopy = `${clone}-kit`;
rmSync(kitCopy, { recursive: true, force: true });
cpSync(kit, kitCopy, { recursive: true });
const SUBPATH: Record<string, string> = {
  'creds.ts': '@messenger/platform/auth',
  'unary-client-cpu.ts': '@messenger/platform/api-catalog',
};
for (const [file, subpath] of Object.entries(SUBPATH)) {
  const path = join(kitCopy, 'node', file);
  if (existsSync(path))
    writeFileSync(path, readFileSync(path, 'utf8').replace("from '@messenger/platform';", `from '${subpath}';`));
}

rmSync(clone, { recursive: true, force: true });
execFileSync('git', ['clone', '-q', root, clone], { stdio: 'inherit' });
execFileSync('make', ['--no-print-directory', 'setup'], { cwd: clone, stdio: ['ignore', 'ignore', 'inherit'] });

// The kit's protoc-gen-go (1.3.5, Debian) predates proto3 `optional` and
// refuses a file that has one. Go is generated from a copy of proto/ with the
// label dropped: the wire format is the same, only presence tracking is lost,
// and no measured route (GetUser, SendMessage) has such a field. Our gateway
// still runs on the clone's own proto/.
const goProto = join(clone, '.build/anchor-go-proto');
cpSync(join(clone, 'proto'), goProto, { recursive: true });
for (const file of readdirSync(goProto, { recursive: true, encoding: 'utf8' })) {
  if (!file.endsWith('.proto')) continue;
  const path = join(goProto, file);
  writeFileSync(path, readFileSync(path, 'utf8').replace(/^(\s*)optional /gm, '$1'));
}
// Our gateway is started with the node flags it runs with in production.
const flags = GATEWAY_NODE_FLAGS.join(' ');
const KIT_EDITS: [string, string, number][] = [
  ['P="$CLONE/proto"', `P="${goProto}"`, 1],
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the kit's bash array expansion, on purpose
  ['"${ROLE[@]}" gateway', `env BENCH_JWKS="$JWKS" "$NODE" ${flags} bench/p1-processes.ts gateway`, 2],
  ['"$NODE" --cpu-prof', `"$NODE" ${flags} --cpu-prof`, 1],
  ['"$NODE" bench/p1-cluster-gateway.mjs', `"$NODE" ${flags} bench/p1-cluster-gateway.mjs`, 1],
];
const runSh = join(kitCopy, 'run.sh');
let kitScript = readFileSync(runSh, 'utf8');
for (const [from, to, count] of KIT_EDITS) {
  if (kitScript.split(from).length - 1 !== count) throw new Error(`anchor: the kit's run.sh no longer has ${from}`);
  kitScript = kitScript.replaceAll(from, to);
}
writeFileSync(runSh, kitScript);
// The kit's default ports (41751–41758) lie in Linux's ephemeral range
// (32768–60999 here), so a connection opened during the rounds can hold one
// as its local port when the profiled gateway starts last on 41756, and the
// kit fails. Below the range nothing but a listener takes them; a port set
// in the environment still wins.
const KIT_PORTS = ['UP', 'BARE', 'GW_OFF', 'GW_ON', 'GO', 'PROF', 'GO_PROF', 'CLUSTER'];
const ports = Object.fromEntries(KIT_PORTS.map((name, i) => [`${name}_PORT`, String(21751 + i)]));
const run = spawnSync(join(kitCopy, 'run.sh'), [], {
  cwd: kitCopy,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...ports, ...process.env, CLONE: clone },
});
process.exit(run.status ?? 1);
