// `sluice k8s bootstrap`: prints the objects an injected pod refers to (DESIGN.md §7), ready for
// `kubectl apply -f -`: Secret sluice-ca (a new CA unless --ca-dir names one), Secret
// sluice-secrets, ConfigMap sluice-config (sluice.toml with the pod's folders) and ConfigMap
// sluice-trust (ca.crt and ca-bundle.crt for the app containers).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatIssue, ConfigError } from '../config/errors.ts';
import { bootstrapObjects } from '../k8s/bootstrap.ts';
import { joinManifests, printManifest } from '../k8s/manifest-yaml.ts';
import { checkPodConfig, withPodFolders } from '../k8s/pod-config.ts';
import { POD_PATHS } from '../k8s/constants.ts';
import { loadCa, loadOrCreateCa } from '../tls/ca.ts';
import { buildTrustBundle } from '../tls/trust-bundle.ts';

export const K8S_USAGE = `usage: sluice k8s bootstrap -c sluice.toml [--namespace NS] [--ca-dir DIR] [--secrets-dir DIR]

Prints, as YAML for \`kubectl apply -f -\`, the objects an injected pod needs in its namespace:
  Secret sluice-ca          ca.crt, ca.key: a new CA, or the one in --ca-dir
  Secret sluice-secrets     the real secrets sluice.toml reads from ${POD_PATHS.secretsDir}/KEY: each
                            KEY's value from the file --secrets-dir/KEY; without --secrets-dir it
                            is printed empty (fill it with kubectl create secret generic …)
  ConfigMap sluice-config   sluice.toml, with proxy.ca_dir = "${POD_PATHS.caDir}" and
                            proxy.log_dir = "${POD_PATHS.logDir}" added where it sets neither
  ConfigMap sluice-trust    ca.crt and ca-bundle.crt (system roots + the CA) for the app containers
Applying it again with a new CA replaces the CA: keep the CA folder, or pass --ca-dir.
`;

export async function k8sCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(K8S_USAGE);
    return 0;
  }
  if (sub !== 'bootstrap') {
    process.stderr.write(`sluice k8s: ${sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`}\n${K8S_USAGE}`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        config: { type: 'string', short: 'c', default: 'sluice.toml' },
        namespace: { type: 'string', short: 'n' },
        'ca-dir': { type: 'string' },
        'secrets-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    process.stderr.write(`sluice k8s: ${(err as Error).message}\n${K8S_USAGE}`);
    return 2;
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(K8S_USAGE);
    return 0;
  }
  let configText: string;
  let secretKeys: string[];
  try {
    configText = withPodFolders(await readFile(values.config, 'utf8'));
    const report = checkPodConfig(configText);
    for (const w of report.warnings) process.stderr.write(`sluice k8s: warning: ${w}\n`);
    if (report.problems.length > 0) {
      for (const p of report.problems) process.stderr.write(`sluice k8s: ${values.config}: ${p}\n`);
      return 1;
    }
    secretKeys = report.secretKeys;
  } catch (err) {
    process.stderr.write(`sluice k8s: ${err instanceof ConfigError ? err.issues.map(formatIssue).join('\n') : (err as Error).message}\n`);
    return 1;
  }

  let secrets: Record<string, string> | undefined;
  if (values['secrets-dir'] !== undefined) {
    secrets = {};
    for (const key of secretKeys) secrets[key] = await readFile(join(values['secrets-dir'], key), 'utf8');
  }
  const temp = values['ca-dir'] === undefined ? await mkdtemp(join(tmpdir(), 'sluice-bootstrap-')) : undefined;
  try {
    const { ca } = temp === undefined ? await loadCa(values['ca-dir'] as string) : await loadOrCreateCa(join(temp, 'ca'));
    const caKeyPem = await readFile(ca.keyPath, 'utf8');
    const objects = bootstrapObjects({
      namespace: values.namespace, configText, caCertPem: ca.certPem, caKeyPem,
      bundlePem: await buildTrustBundle(ca.certPem), secrets,
    });
    process.stdout.write(joinManifests(objects.map(printManifest)));
    if (secrets === undefined && secretKeys.length > 0) {
      process.stderr.write(`sluice k8s: Secret sluice-secrets is empty; it needs the keys ${secretKeys.join(', ')}:\n`
        + `  kubectl create secret generic sluice-secrets ${values.namespace === undefined ? '' : `-n ${values.namespace} `}${secretKeys.map((k) => `--from-file=${k}=./${k}`).join(' ')} --dry-run=client -o yaml | kubectl apply -f -\n`);
    }
    return 0;
  } finally {
    if (temp !== undefined) await rm(temp, { recursive: true, force: true });
  }
}
