// docs/OPERATIONS.md's configuration reference is generated from the settings
// schemas by scripts/config-reference.ts; this fails when the committed copy
// is stale (a setting added, renamed, re-described or re-defaulted without
// `make config-docs`).
import { readFileSync } from 'node:fs';
import { OPERATIONS_MD, renderReference, splice } from '../../scripts/config-reference.ts';
import { byEnv, isPresent, loadSettings, PROCESSES } from '../../scripts/deploy/processes.ts';

describe('configuration reference in docs/OPERATIONS.md', () => {
  it('matches the schemas (run `make config-docs` when it does not)', async () => {
    const doc = readFileSync(OPERATIONS_MD, 'utf8');
    expect(splice(doc, await renderReference())).toBe(doc);
  });

  it('lists every variable of every process and never prints a secret default', async () => {
    const reference = await renderReference();
    for (const p of PROCESSES.filter(isPresent)) {
      for (const s of byEnv(await loadSettings(p)).values()) {
        expect(reference).toContain(`\`${s.env}\``);
        // A secret's row shows that it has a default, not the default.
        if (s.secret && s.defaultValue) {
          expect(reference).toContain(`| \`${s.env}\` 🔒 | *secret — has a default, never shown* |`);
        }
      }
    }
  });
});
