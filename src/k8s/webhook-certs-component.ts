// What `sluice webhook certs` writes beside the PEM files: a kustomize Component that adds the
// serving Secret and puts the CA into the MutatingWebhookConfiguration's caBundle, so
// `components: [path/to/certs]` over k8s/webhook replaces cert-manager (README, Kubernetes).
import { WEBHOOK_CONFIGURATION, WEBHOOK_NAMES, WEBHOOK_TLS_SECRET } from './webhook-names.ts';
import type { WebhookCertificates } from './webhook-certs.ts';

const b64 = (text: string): string => Buffer.from(text).toString('base64');

export function certsComponent(certs: WebhookCertificates, namespace: string): Record<string, unknown> {
  return {
    'kustomization.yaml': {
      apiVersion: 'kustomize.config.k8s.io/v1alpha1',
      kind: 'Component',
      resources: ['secret.yaml'],
      patches: [{ path: 'cabundle-patch.yaml' }],
    },
    'secret.yaml': {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: WEBHOOK_TLS_SECRET, namespace, labels: { 'app.kubernetes.io/part-of': 'sluice' } },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': b64(certs.certPem), 'tls.key': b64(certs.keyPem), 'ca.crt': b64(certs.caPem) },
    },
    // A strategic merge patch: webhooks merge by name.
    'cabundle-patch.yaml': {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: WEBHOOK_CONFIGURATION },
      webhooks: WEBHOOK_NAMES.map((name) => ({ name, clientConfig: { caBundle: b64(certs.caPem) } })),
    },
  };
}
