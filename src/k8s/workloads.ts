// Finds the pod templates inside Kubernetes objects and injects each one (DESIGN.md §7):
// Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, and
// every item of a List. Every other kind passes through unchanged.
import { INJECT_LABEL } from './constants.ts';
import { InjectionRefused, injectPodTemplate, type InjectOptions } from './inject-pod.ts';
import { isObject, type KubeObject, type PodSpec, type PodTemplate } from './types.ts';

/** Where each kind keeps its pod template. */
const TEMPLATE_PATHS: Record<string, readonly string[]> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export const WORKLOAD_KINDS: readonly string[] = ['Pod', ...Object.keys(TEMPLATE_PATHS)];

export interface ObjectReport {
  /** Kind/name, for messages. */
  object: string;
  outcome: 'injected' | 'unchanged' | 'skipped';
  why?: string;
}

export function describeObject(obj: KubeObject): string {
  return `${obj.kind ?? 'object'}/${obj.metadata?.name ?? obj.metadata?.['generateName'] as string ?? '(unnamed)'}`;
}

function isPodSpec(value: unknown): value is PodSpec {
  return isObject(value) && Array.isArray(value['containers']);
}

function injectTemplate(template: PodTemplate, options: InjectOptions, name: string, reports: ObjectReport[]): PodTemplate {
  if (template.metadata?.labels?.[INJECT_LABEL] === 'false') {
    reports.push({ object: name, outcome: 'skipped', why: `label ${INJECT_LABEL}=false` });
    return template;
  }
  try {
    const result = injectPodTemplate(template, options);
    reports.push(result.outcome === 'injected' ? { object: name, outcome: 'injected' } : { object: name, outcome: 'unchanged', why: result.why });
    return result.template;
  } catch (err) {
    if (err instanceof InjectionRefused) throw new InjectionRefused(`${name}: ${err.message}`);
    throw err;
  }
}

/**
 * The object with every pod template injected; `reports` gets one line per template. Throws
 * InjectionRefused (naming the object and container) for an unsafe pod.
 */
export function injectObject(obj: unknown, options: InjectOptions, reports: ObjectReport[] = []): unknown {
  if (!isObject(obj)) return obj;
  const kube = obj as KubeObject;
  const kind = kube.kind;
  if (typeof kind !== 'string') return obj;
  if (kind === 'List' || (kind.endsWith('List') && Array.isArray(kube['items']))) {
    const items = kube['items'];
    if (!Array.isArray(items)) return obj;
    return { ...kube, items: items.map((item) => injectObject(item, options, reports)) };
  }
  const name = describeObject(kube);
  if (kind === 'Pod') {
    if (!isPodSpec(kube['spec'])) return obj;
    const original: PodTemplate = { metadata: kube.metadata ?? {}, spec: kube['spec'] };
    const template = injectTemplate(original, options, name, reports);
    if (template === original) return obj;
    return { ...kube, metadata: template.metadata, spec: template.spec };
  }
  const path = TEMPLATE_PATHS[kind];
  if (path === undefined) return obj;
  const holder = getPath(kube, path);
  if (!isObject(holder) || !isPodSpec(holder['spec'])) return obj;
  const template = injectTemplate(holder as unknown as PodTemplate, options, name, reports);
  if (template === (holder as unknown)) return obj;
  return setPath(kube, path, { metadata: template.metadata, ...holder, ...template });
}

function getPath(value: unknown, path: readonly string[]): unknown {
  let at = value;
  for (const key of path) {
    if (!isObject(at)) return undefined;
    at = at[key];
  }
  return at;
}

/** A copy of `value` with `replacement` at `path` (every object along the way copied). */
function setPath(value: Record<string, unknown>, path: readonly string[], replacement: unknown): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined) return value;
  const child = value[head];
  return { ...value, [head]: rest.length === 0 ? replacement : setPath(isObject(child) ? child : {}, rest, replacement) };
}
