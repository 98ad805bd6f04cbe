// Names in k8s/ that code refers to; test/unit/k8s-manifests.test.ts checks they match.
export const WEBHOOK_NAMESPACE = 'sluice';
export const WEBHOOK_SERVICE = 'sluice-webhook';
export const WEBHOOK_TLS_SECRET = 'sluice-webhook-tls';
export const WEBHOOK_CONFIGURATION = 'sluice';
/** Namespace opt-in, and pod opt-in where the namespace is not labelled (as Istio splits them). */
export const WEBHOOK_NAMES = ['namespace.inject.sluice.dev', 'object.inject.sluice.dev'] as const;
