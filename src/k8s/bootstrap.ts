// The objects an injected pod refers to, in its namespace (DESIGN.md §7): Secret sluice-ca,
// Secret sluice-secrets, ConfigMap sluice-config and ConfigMap sluice-trust. `sluice k8s
// bootstrap` prints them; an operator may as well create them with kubectl.
import { BUNDLE_FILE, CA_FILE } from '../cli/env.ts';
import { CA_CERT_FILE, CA_KEY_FILE } from '../tls/ca.ts';
import { CONFIGMAP_CONFIG, CONFIGMAP_TRUST, SECRET_CA, SECRET_SECRETS } from './constants.ts';
import type { KubeObject } from './types.ts';

export interface BootstrapInput {
  namespace?: string;
  /** sluice.toml as the pod reads it (with the pod's folders). */
  configText: string;
  caCertPem: string;
  caKeyPem: string;
  /** System roots + the CA, for the variables that replace a trust store. */
  bundlePem: string;
  /** Real secret values by key; absent: the Secret is printed without data, to be filled. */
  secrets?: Record<string, string>;
}

const LABELS = { 'app.kubernetes.io/part-of': 'sluice' };

function meta(name: string, namespace: string | undefined): KubeObject['metadata'] {
  return namespace === undefined ? { name, labels: { ...LABELS } } : { name, namespace, labels: { ...LABELS } };
}

const b64 = (text: string): string => Buffer.from(text).toString('base64');

export function bootstrapObjects(input: BootstrapInput): KubeObject[] {
  const ns = input.namespace;
  const secretData: Record<string, string> = {};
  for (const [key, value] of Object.entries(input.secrets ?? {})) secretData[key] = b64(value);
  return [
    { apiVersion: 'v1', kind: 'Secret', metadata: meta(SECRET_CA, ns), type: 'Opaque', data: { [CA_CERT_FILE]: b64(input.caCertPem), [CA_KEY_FILE]: b64(input.caKeyPem) } },
    { apiVersion: 'v1', kind: 'Secret', metadata: meta(SECRET_SECRETS, ns), type: 'Opaque', data: secretData },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(CONFIGMAP_CONFIG, ns), data: { 'sluice.toml': input.configText } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(CONFIGMAP_TRUST, ns), data: { [CA_FILE]: input.caCertPem, [BUNDLE_FILE]: input.bundlePem } },
  ];
}
