// The pod-run test's manifests: parse YAML, inject with the real `sluice inject` CLI when it
// exists (else the hand-written pod-*-injected.yaml beside the input), and turn a workload into
// the Pod its controller would create from the template.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { run } from '../helpers/process.ts';
import { REPO } from '../compose/fixture.ts';

export const FIXTURES = join(REPO, 'test/fixtures/k8s');


type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Every document of a YAML stream, with `List`s flattened, as `kubectl apply` reads them: YAML
 * 1.1 like Kubernetes (go-yaml), so `defaultMode: 0644` is octal, as a cluster would read it.
 */
export function parseManifests(text: string): Obj[] {
  return parseAllDocuments(text, { version: '1.1' }).map((doc) => {
    const error = doc.errors[0];
    if (error !== undefined) throw new Error(`invalid YAML: ${error.message}`);
    return doc.toJS() as unknown;
  }).filter(isObj).flatMap((d) => (d.kind === 'List' && Array.isArray(d.items) ? d.items.filter(isObj) : [d]));
}

export interface Injected {
  source: 'sluice inject' | 'hand-written';
  documents: Obj[];
  stderr: string;
}

/**
 * `sluice inject -f FILE --image IMAGE [--sidecar=container]` when the CLI has it; else FILE's
 * hand-written `-injected` twin (native sidecar only: undefined for `container`).
 */
export async function inject(file: string, image: string, sidecar: 'native' | 'container' = 'native'): Promise<Injected | undefined> {
  const cli = existsSync(join(REPO, 'src/cli/inject.ts'));
  if (cli) {
    const result = await run(process.execPath, [join(REPO, 'bin/sluice.js'), 'inject', '-f', file, '--image', image, `--sidecar=${sidecar}`],
      { cwd: REPO, timeoutMs: 60_000 });
    if (!/unknown command/.test(result.stderr)) {
      if (result.code !== 0) throw new Error(`sluice inject -f ${file} exited ${result.code}: ${result.stderr}`);
      return { source: 'sluice inject', documents: parseManifests(result.stdout), stderr: result.stderr };
    }
  }
  if (sidecar === 'container') return undefined;
  const twin = file.replace(/\.yaml$/, '-injected.yaml');
  return { source: 'hand-written', documents: parseManifests(readFileSync(twin, 'utf8')), stderr: '' };
}

/** The pod template of a workload (Pod itself, Deployment & co., Job, CronJob). */
function template(doc: Obj): Obj | undefined {
  const spec = isObj(doc.spec) ? doc.spec : {};
  if (doc.kind === 'CronJob') {
    const job = isObj(spec.jobTemplate) && isObj(spec.jobTemplate.spec) ? spec.jobTemplate.spec : {};
    return isObj(job.template) ? job.template : undefined;
  }
  return isObj(spec.template) ? spec.template : undefined;
}

/** The Pod a controller would create: the template's metadata and spec, named after its owner. */
export function podOf(doc: Obj): Obj {
  if (doc.kind === 'Pod') return doc;
  const tpl = template(doc);
  if (tpl === undefined) throw new Error(`${String(doc.kind)} has no pod template`);
  const owner = isObj(doc.metadata) ? doc.metadata : {};
  const metadata = isObj(tpl.metadata) ? tpl.metadata : {};
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { ...metadata, name: `${String(owner.name)}-x7k2p`, ...(owner.namespace !== undefined ? { namespace: owner.namespace } : {}) },
    spec: tpl.spec,
  };
}
