// The part of a Kubernetes Pod (core/v1) that the pod runner implements, and the check that a
// pod uses nothing else. Every key the runner does not act on is refused by name
// ("not implemented: spec.volumes[2].hostPath") before anything is created, so a test can never
// pass because the runner quietly skipped a field that would have changed the outcome in a
// cluster. A few keys are accepted without effect because they cannot change what runs on one
// node (scheduling, informational ports); SCHEDULING_ONLY lists them.

export interface ExecAction {
  command: string[];
}

export interface Probe {
  exec: ExecAction;
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}

export interface Capabilities {
  add?: string[];
  drop?: string[];
}

export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  capabilities?: Capabilities;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  privileged?: boolean;
  seccompProfile?: { type: 'RuntimeDefault' | 'Unconfined' };
}

export interface PodSecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  fsGroup?: number;
  supplementalGroups?: number[];
  seccompProfile?: { type: 'RuntimeDefault' | 'Unconfined' };
  sysctls?: { name: string; value: string }[];
}

export interface KeyRef {
  name: string;
  key: string;
  optional?: boolean;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: KeyRef; configMapKeyRef?: KeyRef; fieldRef?: { fieldPath: string; apiVersion?: string } };
}

export interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
}

export interface Container {
  name: string;
  image: string;
  imagePullPolicy?: 'IfNotPresent' | 'Never';
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  securityContext?: SecurityContext;
  volumeMounts?: VolumeMount[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { postStart?: { exec: ExecAction }; preStop?: { exec: ExecAction } };
  /** Init containers only: "Always" makes a native sidecar (Kubernetes >= 1.29). */
  restartPolicy?: 'Always';
}

export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

export interface Volume {
  name: string;
  secret?: { secretName: string; items?: KeyToPath[]; defaultMode?: number; optional?: boolean };
  configMap?: { name: string; items?: KeyToPath[]; defaultMode?: number; optional?: boolean };
  emptyDir?: { medium?: '' | 'Memory'; sizeLimit?: string | number };
}

export interface PodSpec {
  initContainers?: Container[];
  containers: Container[];
  volumes?: Volume[];
  restartPolicy?: 'Always' | 'OnFailure' | 'Never';
  terminationGracePeriodSeconds?: number;
  securityContext?: PodSecurityContext;
  shareProcessNamespace?: boolean;
  dnsPolicy?: 'ClusterFirst' | 'None';
  dnsConfig?: { nameservers?: string[]; searches?: string[]; options?: { name: string; value?: string }[] };
  hostname?: string;
  automountServiceAccountToken?: boolean;
}

export interface Pod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: { name: string; namespace?: string; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}

/** A field of the pod the runner does not implement; the message names it. */
export class NotImplementedError extends Error {
  readonly field: string;
  constructor(field: string, why = '') {
    super(`not implemented: ${field}${why === '' ? '' : ` (${why})`}`);
    this.name = 'NotImplementedError';
    this.field = field;
  }
}

/** Keys accepted without effect: they place the pod on a node but do not change what runs there. */
export const SCHEDULING_ONLY = [
  'nodeSelector', 'affinity', 'tolerations', 'priorityClassName', 'priority', 'schedulerName',
  'topologySpreadConstraints', 'serviceAccountName', 'serviceAccount', 'enableServiceLinks', 'preemptionPolicy',
] as const;

const QUANTITY_SUFFIX: Record<string, number> = {
  '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40,
};

/** A Kubernetes quantity ("1Mi", "64M", "1048576") in bytes. */
export function quantityBytes(text: string, at = 'quantity'): number {
  const match = /^(\d+(?:\.\d+)?)(|k|M|G|T|Ki|Mi|Gi|Ti)$/.exec(text);
  if (match === null) throw new NotImplementedError(at, `quantity ${JSON.stringify(text)}`);
  return Math.ceil(Number(match[1]) * (QUANTITY_SUFFIX[match[2] as string] as number));
}

// ---------------------------------------------------------------------------------- the check
// A shape says, for each key an object may hold, how to check its value. Anything else is refused.
type Check = (value: unknown, at: string) => void;
type Shape = Record<string, Check>;

const any: Check = () => {};
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function object(shape: Shape): Check {
  return (value, at) => {
    if (!isObject(value)) throw new Error(`${at}: expected an object`);
    for (const [key, v] of Object.entries(value)) {
      const check = shape[key];
      if (check === undefined) throw new NotImplementedError(`${at}.${key}`);
      check(v, `${at}.${key}`);
    }
  };
}

function list(item: Check): Check {
  return (value, at) => {
    if (!Array.isArray(value)) throw new Error(`${at}: expected a list`);
    value.forEach((v, i) => item(v, `${at}[${i}]`));
  };
}

function oneOf(...allowed: unknown[]): Check {
  return (value, at) => {
    if (!allowed.includes(value)) throw new NotImplementedError(at, `value ${JSON.stringify(value)}; implemented: ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
  };
}

function required(shape: Shape, keys: string[]): Check {
  const inner = object(shape);
  return (value, at) => {
    inner(value, at);
    for (const key of keys) if ((value as Record<string, unknown>)[key] === undefined) throw new Error(`${at}.${key} is required`);
  };
}

const exec = required({ command: list(any) }, ['command']);
const probe = required({
  exec, initialDelaySeconds: any, periodSeconds: any, timeoutSeconds: any, successThreshold: any, failureThreshold: any,
}, ['exec']);
const seccomp = object({ type: oneOf('RuntimeDefault', 'Unconfined') });
const securityContext = object({
  runAsUser: any, runAsGroup: any, runAsNonRoot: any, allowPrivilegeEscalation: any, readOnlyRootFilesystem: any, privileged: any,
  capabilities: object({ add: list(any), drop: list(any) }), seccompProfile: seccomp, procMount: oneOf('Default'),
});
const keyRef = object({ name: any, key: any, optional: any });
const FIELD_REFS = ['metadata.name', 'metadata.namespace', 'metadata.uid', 'status.podIP'];
const env = required({
  name: any, value: any,
  valueFrom: object({
    secretKeyRef: keyRef, configMapKeyRef: keyRef,
    fieldRef: object({ apiVersion: any, fieldPath: oneOf(...FIELD_REFS) }),
  }),
}, ['name']);
const envFrom = object({ prefix: any, configMapRef: object({ name: any, optional: any }), secretRef: object({ name: any, optional: any }) });
const volumeMount = required({ name: any, mountPath: any, readOnly: any, subPath: any, mountPropagation: oneOf('None') }, ['name', 'mountPath']);

function container(init: boolean): Check {
  return required({
    name: any, image: any, imagePullPolicy: oneOf('IfNotPresent', 'Never'), command: list(any), args: list(any), workingDir: any,
    env: list(env), envFrom: list(envFrom), securityContext, volumeMounts: list(volumeMount),
    startupProbe: probe, readinessProbe: probe, livenessProbe: probe,
    lifecycle: object({ postStart: required({ exec }, ['exec']), preStop: required({ exec }, ['exec']) }),
    // Informational: every container of a pod shares one network namespace.
    ports: any,
    // Requests only place the pod; limits would need cgroup settings the runner does not make.
    resources: object({ requests: any }),
    // The runner reports exit codes and logs instead of termination messages.
    terminationMessagePath: oneOf('/dev/termination-log'), terminationMessagePolicy: oneOf('File'),
    ...(init ? { restartPolicy: oneOf('Always') } : {}),
  }, ['name', 'image']);
}

const keyToPath = required({ key: any, path: any, mode: any }, ['key', 'path']);
const volume = required({
  name: any,
  secret: required({ secretName: any, items: list(keyToPath), defaultMode: any, optional: any }, ['secretName']),
  configMap: required({ name: any, items: list(keyToPath), defaultMode: any, optional: any }, ['name']),
  // Memory: a tmpfs whose size is sizeLimit (kubelet's SizeMemoryBackedVolumes). On disk,
  // sizeLimit is enforced by eviction, which the runner does not model: refused there.
  emptyDir: (value, at) => {
    object({ medium: oneOf('', 'Memory'), sizeLimit: any })(value, at);
    const v = value as { medium?: string; sizeLimit?: unknown };
    if (v.sizeLimit !== undefined && v.medium !== 'Memory') throw new NotImplementedError(`${at}.sizeLimit`, 'eviction of a disk-backed emptyDir');
    if (v.sizeLimit !== undefined) quantityBytes(String(v.sizeLimit), `${at}.sizeLimit`);
  },
}, ['name']);

const podSpec = required({
  initContainers: list(container(true)), containers: list(container(false)), volumes: list(volume),
  restartPolicy: oneOf('Always', 'OnFailure', 'Never'), terminationGracePeriodSeconds: any,
  securityContext: object({
    runAsUser: any, runAsGroup: any, runAsNonRoot: any, fsGroup: any, supplementalGroups: list(any), seccompProfile: seccomp,
    fsGroupChangePolicy: oneOf('Always', 'OnRootMismatch'),
    sysctls: list(required({ name: any, value: any }, ['name', 'value'])),
  }),
  shareProcessNamespace: any, dnsPolicy: oneOf('ClusterFirst', 'None'),
  dnsConfig: object({ nameservers: list(any), searches: list(any), options: list(object({ name: any, value: any })) }),
  hostname: any,
  // The runner never mounts a service account token: the pod must not expect one.
  automountServiceAccountToken: oneOf(false),
  ...Object.fromEntries(SCHEDULING_ONLY.map((key) => [key, any])),
}, ['containers']);

/** Annotations that change what kubelet or the runtime does; the runner implements none. */
const BEHAVIOUR_ANNOTATIONS = /^(?:container\.apparmor\.security\.beta\.kubernetes\.io\/|seccomp\.security\.alpha\.kubernetes\.io\/)/;

const pod = required({
  apiVersion: oneOf('v1'), kind: oneOf('Pod'),
  metadata: required({
    name: any, namespace: any, uid: any, labels: any, generateName: any, creationTimestamp: any,
    annotations: (value, at) => {
      for (const key of Object.keys(value as object)) {
        if (BEHAVIOUR_ANNOTATIONS.test(key)) throw new NotImplementedError(`${at}["${key}"]`);
      }
    },
  }, ['name']),
  spec: podSpec,
  status: any,
}, ['apiVersion', 'kind', 'metadata', 'spec']);

/** kubelet pulls `:latest` (or an untagged image) every time unless told otherwise; the runner cannot pull. */
function checkPullPolicy(c: Container, where: string): void {
  const last = c.image.split('/').pop() ?? '';
  const tagged = (last.includes(':') && !last.endsWith(':latest')) || c.image.includes('@');
  if (c.imagePullPolicy === undefined && !tagged) {
    throw new NotImplementedError(`${where}.imagePullPolicy`, `unset with image ${c.image} means Always: the runner cannot pull`);
  }
}

/**
 * Checks that the runner implements everything this object asks for and narrows it to a Pod.
 * Throws NotImplementedError naming the first field it does not implement.
 */
export function checkPod(value: unknown): Pod {
  pod(value, 'pod');
  const p = value as Pod;
  const names = new Set<string>();
  for (const c of [...(p.spec.initContainers ?? []), ...p.spec.containers]) {
    if (names.has(c.name)) throw new Error(`pod: two containers are named ${c.name}`);
    names.add(c.name);
  }
  const volumes = new Set<string>();
  for (const [i, v] of (p.spec.volumes ?? []).entries()) {
    const kinds = (['secret', 'configMap', 'emptyDir'] as const).filter((k) => v[k] !== undefined);
    if (kinds.length !== 1) throw new Error(`pod.spec.volumes[${i}] (${v.name}): exactly one volume type, found ${kinds.length}`);
    volumes.add(v.name);
  }
  for (const c of [...(p.spec.initContainers ?? []), ...p.spec.containers]) {
    for (const m of c.volumeMounts ?? []) {
      if (!volumes.has(m.name)) throw new Error(`container ${c.name} mounts volume ${m.name}, which the pod does not define`);
    }
  }
  if (p.spec.dnsPolicy === 'None' && p.spec.dnsConfig === undefined) throw new Error('pod.spec.dnsPolicy None needs dnsConfig');
  (p.spec.initContainers ?? []).forEach((c, i) => checkPullPolicy(c, `pod.spec.initContainers[${i}]`));
  p.spec.containers.forEach((c, i) => checkPullPolicy(c, `pod.spec.containers[${i}]`));
  return p;
}
