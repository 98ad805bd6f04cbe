// `sluice webhook`: the mutating admission webhook (DESIGN.md §7), and `sluice webhook certs`,
// its serving certificate for clusters without cert-manager.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createOpsLog } from '../audit/ops-log.ts';
import { formatIssue, ConfigError } from '../config/errors.ts';
import { resolveInjectOptions } from '../k8s/inject-options.ts';
import { printManifest } from '../k8s/manifest-yaml.ts';
import { createWebhookCertificates } from '../k8s/webhook-certs.ts';
import { createWebhookServer } from '../k8s/webhook-server.ts';
import { certsComponent } from '../k8s/webhook-certs-component.ts';

export const WEBHOOK_USAGE = `usage:
  sluice webhook --listen ADDR:PORT --tls-cert FILE --tls-key FILE [-c sluice.toml] [--image IMG] [--sidecar=native|container]
  sluice webhook certs --service NAME --namespace NS --out DIR

webhook: serves POST /mutate (AdmissionReview v1: a JSONPatch that injects sluice, exactly what
  \`sluice inject\` prints), /healthz and /readyz over HTTPS. The serving certificate is re-read
  when its files change. -c gives the uid and ports of the pods' sluice.toml (default: the
  defaults); the image comes from --image, $SLUICE_IMAGE, else sluice:VERSION.
certs: writes a CA (ca.crt), a serving pair (tls.crt, tls.key) for the Service NAME.NS.svc, and
  a kustomize Component (kustomization.yaml, secret.yaml, cabundle-patch.yaml) that adds the
  Secret and the caBundle to k8s/ (see README, Kubernetes).
`;

function usageError(message: string): number {
  process.stderr.write(`sluice webhook: ${message}\n${WEBHOOK_USAGE}`);
  return 2;
}

export async function webhookCommand(argv: string[]): Promise<number> {
  if (argv[0] === 'certs') return certsCommand(argv.slice(1));
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        listen: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        config: { type: 'string', short: 'c' },
        image: { type: 'string' },
        sidecar: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return usageError((err as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(WEBHOOK_USAGE);
    return 0;
  }
  const listen = values.listen;
  const certFile = values['tls-cert'];
  const keyFile = values['tls-key'];
  if (listen === undefined || certFile === undefined || keyFile === undefined) return usageError('--listen, --tls-cert and --tls-key are required');
  const at = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  if (at === null) return usageError(`--listen ${listen}: expected ADDR:PORT ([ADDR]:PORT for IPv6)`);
  const host = at[1] ?? at[2] ?? '';
  const port = Number(at[3]);
  let resolved;
  try {
    resolved = await resolveInjectOptions(values);
  } catch (err) {
    process.stderr.write(`sluice webhook: ${err instanceof ConfigError ? err.issues.map(formatIssue).join('\n') : (err as Error).message}\n`);
    return 1;
  }
  const log = createOpsLog().child({ component: 'sluice-webhook' });
  const webhook = createWebhookServer({
    certFile, keyFile, inject: resolved.options,
    onDecision: (entry) => log.info(entry, `pod ${entry.decision}`),
    onError: (message) => log.error(message),
  });
  await new Promise<void>((resolve, reject) => {
    webhook.server.once('error', reject);
    webhook.server.listen({ host: host === '' ? undefined : host, port }, () => resolve());
  });
  log.info({ listen, image: resolved.options.image, sidecar: resolved.options.mode, version: resolved.options.version }, 'webhook listening');
  return new Promise<number>((done) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'stopping');
      void webhook.close().then(() => done(0));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

async function certsCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        service: { type: 'string' },
        namespace: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return usageError((err as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(WEBHOOK_USAGE);
    return 0;
  }
  if (values.service === undefined || values.namespace === undefined || values.out === undefined) {
    return usageError('certs needs --service, --namespace and --out');
  }
  const certs = await createWebhookCertificates(values.service, values.namespace);
  const out = values.out;
  await mkdir(out, { recursive: true, mode: 0o700 });
  const files = certsComponent(certs, values.namespace);
  await writeFile(join(out, 'ca.crt'), certs.caPem, { mode: 0o644 });
  await writeFile(join(out, 'tls.crt'), certs.certPem, { mode: 0o644 });
  await writeFile(join(out, 'tls.key'), certs.keyPem, { mode: 0o600 });
  for (const [name, value] of Object.entries(files)) {
    await writeFile(join(out, name), printManifest(value), { mode: name === 'secret.yaml' ? 0o600 : 0o644 });
  }
  process.stdout.write(`wrote ${out}/{ca.crt,tls.crt,tls.key} and a kustomize Component (${Object.keys(files).join(', ')})\n`
    + `names: ${certs.dnsNames.join(', ')}\n`
    + `caBundle: ${Buffer.from(certs.caPem).toString('base64')}\n`);
  return 0;
}
