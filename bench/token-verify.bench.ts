// Token verification benchmark: the CPU one access token's signature and
// claims check costs, for a token not seen before (every opened stream and
// every first call of a session pays it, in each process on its path).
// verifyEs256Jwt (node:crypto) against jose's jwtVerify (WebCrypto), the
// verifier it replaced, on the same tokens and key, interleaved in rounds.
// CPU is this process's user + system time, which includes libuv's pool
// threads (where WebCrypto runs its work).
import { randomUUID } from 'node:crypto';
import { verifyEs256Jwt } from '@messenger/platform/auth';
import { generateKeyPair, jwtVerify, SignJWT } from 'jose';

const TOKENS = Number(process.env.BENCH_TOKENS ?? 4000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const options = { issuer: 'messenger-auth', audience: ['messenger', 'messenger-internal'] };

const { privateKey, publicKey } = await generateKeyPair('ES256');
const tokens = await Promise.all(
  Array.from({ length: TOKENS }, () =>
    new SignJWT({ sid: randomUUID(), roles: ['user'], token_use: 'access' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer(options.issuer)
      .setAudience('messenger')
      .setSubject(randomUUID())
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(privateKey),
  ),
);
const keyFor = async () => publicKey;

const verifiers: Record<string, (token: string) => Promise<unknown>> = {
  'jose jwtVerify (before)': (token) =>
    jwtVerify(token, keyFor, {
      ...options,
      algorithms: ['ES256'],
      requiredClaims: ['sub', 'iat', 'exp', 'jti'],
      maxTokenAge: 900,
      clockTolerance: 30,
      currentDate: new Date(),
    }),
  'verifyEs256Jwt (now)': (token) =>
    verifyEs256Jwt(token, keyFor, {
      ...options,
      requiredClaims: ['sub', 'iat', 'exp', 'jti'],
      maxTokenAgeSeconds: 900,
      clockToleranceSeconds: 30,
      nowMs: Date.now(),
    }),
};

/** One at a time, as a stream opening verifies: CPU and wall time per token. */
async function measure(verify: (token: string) => Promise<unknown>) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const token of tokens) await verify(token);
  const wallUs = ((performance.now() - t0) * 1000) / tokens.length;
  const cpu = process.cpuUsage(cpu0);
  return { cpuUs: (cpu.user + cpu.system) / tokens.length, wallUs };
}

const results = new Map<string, { cpuUs: number; wallUs: number }[]>();
for (const verify of Object.values(verifiers)) await measure(verify); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, verify] of Object.entries(verifiers)) {
    const list = results.get(name) ?? [];
    list.push(await measure(verify));
    results.set(name, list);
  }
}
const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const rows = [...results].map(([name, runs]) => ({
  name,
  cpuUs: median(runs.map((r) => r.cpuUs)),
  wallUs: median(runs.map((r) => r.wallUs)),
}));
const before = rows[0]?.cpuUs ?? 1;
console.log(`${TOKENS} fresh ES256 access tokens, one at a time, median of ${ROUNDS} interleaved rounds`);
console.log('| verifier | CPU µs / token | wall µs / token | CPU vs jose |');
console.log('|---|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.name} | ${r.cpuUs.toFixed(1)} | ${r.wallUs.toFixed(1)} | ${(r.cpuUs / before).toFixed(2)}× |`);
}
