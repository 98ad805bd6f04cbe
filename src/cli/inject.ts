// `sluice inject`: static sidecar injection (DESIGN.md §7), like `linkerd inject` and
// `istioctl kube-inject`. Reads YAML or JSON (files, folders, stdin; several documents or a
// List), injects every pod template, passes every other object through, writes YAML.
//
//   kubectl get deploy agent -o yaml | sluice inject - | kubectl apply -f -
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatIssue, ConfigError } from '../config/errors.ts';
import { resolveInjectOptions } from '../k8s/inject-options.ts';
import { InjectionRefused } from '../k8s/inject-pod.ts';
import { joinManifests, parseManifests, printManifest } from '../k8s/manifest-yaml.ts';
import { injectObject, type ObjectReport } from '../k8s/workloads.ts';

export const INJECT_USAGE = `usage: sluice inject [-f FILE|DIR|-]… [-c sluice.toml] [--image IMG] [--sidecar=native|container]

Prints the manifests with sluice injected into every pod template (Pod, Deployment, StatefulSet,
DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, List items); other objects pass
through unchanged. Injecting twice changes nothing. A pod that could bypass sluice is refused
(exit 1, naming the container).

  -f, --filename FILE|DIR|-  manifests to read (repeatable; a folder: its *.yaml, *.yml, *.json;
                             "-" or nothing: standard input); a bare argument works too
  -c, --config FILE          the pod's sluice.toml: its uid and ports, checked for the pod layout
  --image IMG                sluice's image (default: $SLUICE_IMAGE, else sluice:VERSION)
  --sidecar native|container native sidecar (Kubernetes 1.29+, default), or sluice first in
                             containers with a postStart hook for older clusters
`;

const MANIFEST = /\.(?:ya?ml|json)$/i;

async function readSource(source: string): Promise<Array<{ name: string; text: string }>> {
  if (source === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return [{ name: 'stdin', text: Buffer.concat(chunks).toString('utf8') }];
  }
  if ((await stat(source)).isDirectory()) {
    const names = (await readdir(source)).filter((n) => MANIFEST.test(n)).sort();
    return Promise.all(names.map(async (n) => ({ name: join(source, n), text: await readFile(join(source, n), 'utf8') })));
  }
  return [{ name: source, text: await readFile(source, 'utf8') }];
}

export async function injectCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        filename: { type: 'string', short: 'f', multiple: true },
        config: { type: 'string', short: 'c' },
        image: { type: 'string' },
        sidecar: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    process.stderr.write(`sluice inject: ${(err as Error).message}\n${INJECT_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(INJECT_USAGE);
    return 0;
  }
  let resolved;
  try {
    resolved = await resolveInjectOptions(values);
  } catch (err) {
    const message = err instanceof ConfigError ? err.issues.map(formatIssue).join('\n') : (err as Error).message;
    process.stderr.write(`sluice inject: ${message}\n`);
    return 1;
  }
  const { options, report } = resolved;
  for (const w of report?.warnings ?? []) process.stderr.write(`sluice inject: warning: ${w}\n`);
  if (report !== undefined && report.problems.length > 0) {
    for (const p of report.problems) process.stderr.write(`sluice inject: ${values.config}: ${p}\n`);
    return 1;
  }
  const sources = [...(values.filename ?? []), ...positionals];
  if (sources.length === 0) sources.push('-');
  const out: string[] = [];
  const reports: ObjectReport[] = [];
  try {
    for (const source of sources) {
      for (const file of await readSource(source)) {
        for (const doc of parseManifests(file.text, file.name)) {
          const injected = injectObject(doc.value, options, reports);
          out.push(injected === doc.value ? doc.text : printManifest(injected));
        }
      }
    }
  } catch (err) {
    const refused = err instanceof InjectionRefused;
    process.stderr.write(`sluice inject: ${refused ? 'refused: ' : ''}${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(joinManifests(out));
  for (const r of reports) process.stderr.write(`sluice inject: ${r.object} ${r.outcome}${r.why === undefined ? '' : ` (${r.why})`}\n`);
  return 0;
}
