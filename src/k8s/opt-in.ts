// Which pods the webhook injects (DESIGN.md §7, as Istio and Linkerd do it): the namespace label
// `sluice.dev/inject=enabled` opts every pod in; a pod's `sluice.dev/inject: "false"` opts it out,
// its `"true"` opts it in where the namespace is not labelled. The MutatingWebhookConfiguration's
// selectors express the same rule, so the API server does not even call for other pods; this
// check is the webhook's own, for a configuration that selects more widely.
import { INJECT_LABEL } from './constants.ts';

export type InjectionChoice = { inject: true } | { inject: false; why: string };

export function injectionChoice(namespaceLabels: Record<string, string> | undefined, podLabels: Record<string, string> | undefined): InjectionChoice {
  const pod = podLabels?.[INJECT_LABEL];
  if (pod === 'false') return { inject: false, why: `pod label ${INJECT_LABEL}=false` };
  if (pod === 'true') return { inject: true };
  if (namespaceLabels === undefined) return { inject: true }; // the API server's selector already matched
  if (namespaceLabels[INJECT_LABEL] === 'enabled') return { inject: true };
  return { inject: false, why: `namespace not labelled ${INJECT_LABEL}=enabled and pod not labelled ${INJECT_LABEL}=true` };
}
