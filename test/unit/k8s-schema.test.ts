// Every object under k8s/ (as `kubectl kustomize` renders it) and every object `sluice inject`
// and `sluice k8s bootstrap` print, validated against the Kubernetes OpenAPI schema: the
// kubernetes-models package (schema of Kubernetes v1.36.0) and @kubernetes-models/cert-manager.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifests } from '../../src/k8s/manifest-yaml.ts';
import { findTool } from '../helpers/tools.ts';
import { WEBHOOK_CONFIGURATION, WEBHOOK_NAMES, WEBHOOK_NAMESPACE, WEBHOOK_SERVICE, WEBHOOK_TLS_SECRET } from '../../src/k8s/webhook-names.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'bin/sluice.js');
const FIXTURES = join(ROOT, 'test/fixtures/k8s');

interface Model { validate(): void }
type ModelClass = new (data: unknown) => Model;

/** The model class for apiVersion/kind: kubernetes-models/GROUP/VERSION/KIND. */
async function modelFor(apiVersion: string, kind: string): Promise<ModelClass> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') as [string, string] : ['', apiVersion];
  const path = group.endsWith('cert-manager.io')
    ? `@kubernetes-models/cert-manager/${group}/${version}/${kind}`
    : `kubernetes-models/${group === '' ? '' : `${group}/`}${version}/${kind}`;
  const mod = (await import(path)) as Record<string, ModelClass>;
  const model = mod[kind];
  if (model === undefined) throw new Error(`no model for ${apiVersion} ${kind}`);
  return model;
}

async function validate(obj: unknown): Promise<void> {
  const o = obj as { apiVersion: string; kind: string; items?: unknown[] };
  if (o.kind === 'List') {
    for (const item of o.items ?? []) await validate(item);
    return;
  }
  const Model = await modelFor(o.apiVersion, o.kind);
  new Model(obj).validate();
}

// kubectl is not a Debian package (Debian's kubernetes-client 1.20 predates kustomize
// components): where it is missing these two tests say so and skip, even under CI.
const KUBECTL = findTool('kubectl');
if (KUBECTL === undefined) process.stderr.write('k8s-schema: kubectl not found: skipping the `kubectl kustomize k8s/` renders (install kubectl >= 1.21)\n');

async function kustomize(dir: string): Promise<unknown[]> {
  const { stdout } = await run(KUBECTL ?? 'kubectl', ['kustomize', dir], { timeout: 60_000 });
  return parseManifests(stdout).map((d) => d.value);
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sluice-k8s-schema-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('the validator', () => {
  it('accepts a native sidecar (restartPolicy on an init container, Kubernetes 1.29+)', async () => {
    await validate({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { initContainers: [{ name: 's', image: 'i', restartPolicy: 'Always' }], containers: [{ name: 'a', image: 'i' }] } });
  });

  it('rejects what the API server would: a wrong type, a missing required field', async () => {
    await expect(validate({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { initContainers: [{ name: 's', restartPolicy: 7 }], containers: [{ name: 'a' }] } })).rejects.toThrow(/restartPolicy must be string/);
    await expect(validate({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ image: 'i' }] } })).rejects.toThrow(/required property name/);
    await expect(validate({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'x' }, webhooks: [{ name: 'a.b.c', clientConfig: {}, sideEffects: 'None' }] })).rejects.toThrow(/admissionReviewVersions/);
  });
});

describe.skipIf(KUBECTL === undefined)('k8s/ renders offline and validates', () => {
  it('k8s/ (with the cert-manager component)', async () => {
    const objects = await kustomize(join(ROOT, 'k8s'));
    const kinds = objects.map((o) => (o as { kind: string }).kind).sort();
    expect(kinds).toEqual(['Certificate', 'Deployment', 'Issuer', 'MutatingWebhookConfiguration', 'Namespace', 'PodDisruptionBudget', 'Service', 'ServiceAccount']);
    for (const o of objects) await validate(o);

    const byKind = (kind: string): Record<string, any> => objects.find((o) => (o as { kind: string }).kind === kind) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const mwc = byKind('MutatingWebhookConfiguration');
    expect(mwc.metadata.name).toBe(WEBHOOK_CONFIGURATION);
    expect(mwc.metadata.annotations['cert-manager.io/inject-ca-from']).toBe(`${WEBHOOK_NAMESPACE}/${byKind('Certificate').metadata.name}`);
    expect(mwc.webhooks.map((w: { name: string }) => w.name)).toEqual([...WEBHOOK_NAMES]);
    for (const w of mwc.webhooks) {
      expect(w).toMatchObject({ failurePolicy: 'Fail', sideEffects: 'None', reinvocationPolicy: 'IfNeeded', admissionReviewVersions: ['v1'] });
      expect(w.timeoutSeconds).toBeLessThanOrEqual(30);
      expect(w.clientConfig.service).toMatchObject({ name: WEBHOOK_SERVICE, namespace: WEBHOOK_NAMESPACE, path: '/mutate' });
      expect(w.rules).toEqual([{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
      // Never kube-system nor sluice's own namespace.
      expect(w.namespaceSelector.matchExpressions).toContainEqual({ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', WEBHOOK_NAMESPACE] });
    }
    expect(mwc.webhooks[0].namespaceSelector.matchExpressions).toContainEqual({ key: 'sluice.dev/inject', operator: 'In', values: ['enabled'] });
    expect(mwc.webhooks[0].objectSelector.matchExpressions).toEqual([{ key: 'sluice.dev/inject', operator: 'NotIn', values: ['false'] }]);
    expect(mwc.webhooks[1].objectSelector.matchExpressions).toEqual([{ key: 'sluice.dev/inject', operator: 'In', values: ['true'] }]);

    const deployment = byKind('Deployment');
    expect(deployment.spec.replicas).toBe(2);
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(pod.containers[0].command.slice(2, 3)).toEqual(['webhook']);
    expect(pod.volumes[0].secret.secretName).toBe(WEBHOOK_TLS_SECRET);
    expect(byKind('Certificate').spec.secretName).toBe(WEBHOOK_TLS_SECRET);
    expect(byKind('PodDisruptionBudget').spec.minAvailable).toBe(1);
    expect(byKind('ServiceAccount').automountServiceAccountToken).toBe(false);
  });

  it('k8s/self-signed with the component `sluice webhook certs` writes', async () => {
    const copy = join(work, 'k8s');
    await cp(join(ROOT, 'k8s'), copy, { recursive: true });
    await run(process.execPath, [CLI, 'webhook', 'certs', '--service', WEBHOOK_SERVICE, '--namespace', WEBHOOK_NAMESPACE, '--out', join(copy, 'self-signed/certs')], { timeout: 30_000 });
    const objects = await kustomize(join(copy, 'self-signed'));
    for (const o of objects) await validate(o);
    const ca = await readFile(join(copy, 'self-signed/certs/ca.crt'), 'utf8');
    const mwc = objects.find((o) => (o as { kind: string }).kind === 'MutatingWebhookConfiguration') as { webhooks: Array<{ clientConfig: { caBundle: string }; failurePolicy: string }> };
    expect(mwc.webhooks).toHaveLength(2);
    for (const w of mwc.webhooks) {
      expect(Buffer.from(w.clientConfig.caBundle, 'base64').toString()).toBe(ca);
      expect(w.failurePolicy).toBe('Fail');
    }
    const secret = objects.find((o) => (o as { kind: string }).kind === 'Secret') as { metadata: { name: string; namespace: string }; type: string };
    expect(secret).toMatchObject({ metadata: { name: WEBHOOK_TLS_SECRET, namespace: WEBHOOK_NAMESPACE }, type: 'kubernetes.io/tls' });
  });
});

describe('what sluice prints validates', () => {
  for (const golden of ['workloads.injected.yaml', 'workloads.injected-container.yaml', 'list.injected.yaml']) {
    it(`every injected object in ${golden}`, async () => {
      const docs = parseManifests(await readFile(join(FIXTURES, golden), 'utf8'));
      expect(docs.length).toBeGreaterThan(0);
      for (const d of docs) await validate(d.value);
    });
  }

  it('the objects of `sluice k8s bootstrap`', async () => {
    const config = join(work, 'sluice.toml');
    await cp(join(ROOT, 'sluice.toml'), config);
    const { stdout } = await run(process.execPath, [CLI, 'k8s', 'bootstrap', '-c', config, '--namespace', 'agents'], { timeout: 30_000 });
    const objects = parseManifests(stdout).map((d) => d.value as { kind: string; metadata: { name: string; namespace: string } });
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['Secret/sluice-ca', 'Secret/sluice-secrets', 'ConfigMap/sluice-config', 'ConfigMap/sluice-trust']);
    for (const o of objects) {
      expect(o.metadata.namespace).toBe('agents');
      await validate(o);
    }
  });
});
