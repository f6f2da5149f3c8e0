// Prints a fresh token signing key set (active + next EC P-256 private JWKs)
// for AUTH_SIGNING_KEYS, so every auth replica signs with the same keys and
// tokens survive restarts. The output is a secret: pipe it into a secret store.
//   kubectl -n messenger create secret generic messenger-auth \
//     --from-file=signing-keys=<(node scripts/generate-signing-keys.ts)
import { generateSigningKeyRing } from '@messenger/platform/auth';

const ring = await generateSigningKeyRing();
process.stdout.write(`${await ring.exportPrivateJwks()}\n`);
