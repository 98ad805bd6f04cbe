// One container of the pod as `docker run` arguments, following what kubelet asks the runtime
// for: the pod's shared network and IPC namespaces (the pause container's), the user and groups,
// capabilities, no_new_privs, a read-only root, the environment (envFrom, env, $(VAR)
// expansion), the command (Kubernetes `command` replaces ENTRYPOINT, `args` replaces CMD), and
// the volume mounts. Environment values travel in the docker client's own environment
// (`-e NAME`), never on its command line.
import type { Container, EnvVar, Pod } from './pod-spec.ts';
import type { PodObjects, PreparedVolume } from './pod-volumes.ts';
import { join } from 'node:path';

export interface ContainerContext {
  pod: Pod;
  objects: PodObjects;
  volumes: Map<string, PreparedVolume>;
  pause: string;
  podIp: string;
  resolvConf: string;
  /** The image's configured user (`docker image inspect`), '' when none. */
  imageUser: string;
  image: string;
  labels: Record<string, string>;
  name: string;
  restart: 'no' | 'always' | 'on-failure';
}

export interface DockerRun {
  args: string[];
  env: Record<string, string>;
  /** The uid the container's processes run as, as far as the spec and image say. */
  uid: number | undefined;
}

/** kubelet's $(VAR) expansion: `$$` escapes, an undefined reference stays as written. */
export function expand(text: string, vars: Map<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][\w.-]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$';
    return vars.get(name as string) ?? match;
  });
}

function keyValue(objects: PodObjects, kind: 'secret' | 'configMap', name: string, key: string, optional: boolean | undefined, container: string):
  string | undefined {
  const data = (kind === 'secret' ? objects.secrets : objects.configMaps)[name];
  const value = data?.[key];
  if (value === undefined && optional !== true) {
    // kubelet: CreateContainerConfigError; the container is not created.
    throw new Error(`container ${container}: ${kind} ${name} has no key ${key} (CreateContainerConfigError)`);
  }
  return value;
}

function fieldValue(pod: Pod, path: string, podIp: string): string {
  switch (path) {
    case 'metadata.name': return pod.metadata.name;
    case 'metadata.namespace': return pod.metadata.namespace ?? 'default';
    case 'metadata.uid': return pod.metadata.uid ?? '';
    case 'status.podIP': return podIp;
    default: throw new Error(`fieldRef ${path} (checked earlier)`);
  }
}

/** The container's environment, in kubelet's order: envFrom sources, then env, each expanded. */
export function containerEnv(c: Container, ctx: Pick<ContainerContext, 'pod' | 'objects' | 'podIp'>): Map<string, string> {
  const vars = new Map<string, string>();
  for (const source of c.envFrom ?? []) {
    const kind = source.secretRef !== undefined ? 'secret' : 'configMap';
    const ref = source.secretRef ?? source.configMapRef;
    if (ref === undefined) continue;
    const data = (kind === 'secret' ? ctx.objects.secrets : ctx.objects.configMaps)[ref.name];
    if (data === undefined && ref.optional !== true) throw new Error(`container ${c.name}: ${kind} ${ref.name} does not exist (CreateContainerConfigError)`);
    for (const [key, value] of Object.entries(data ?? {})) vars.set(`${source.prefix ?? ''}${key}`, value);
  }
  for (const e of c.env ?? []) {
    const value = envValue(e, c, ctx, vars);
    if (value !== undefined) vars.set(e.name, value);
  }
  return vars;
}

function envValue(e: EnvVar, c: Container, ctx: Pick<ContainerContext, 'pod' | 'objects' | 'podIp'>, vars: Map<string, string>): string | undefined {
  if (e.valueFrom === undefined) return expand(e.value ?? '', vars);
  const { secretKeyRef, configMapKeyRef, fieldRef } = e.valueFrom;
  if (secretKeyRef !== undefined) return keyValue(ctx.objects, 'secret', secretKeyRef.name, secretKeyRef.key, secretKeyRef.optional, c.name);
  if (configMapKeyRef !== undefined) return keyValue(ctx.objects, 'configMap', configMapKeyRef.name, configMapKeyRef.key, configMapKeyRef.optional, c.name);
  if (fieldRef !== undefined) return fieldValue(ctx.pod, fieldRef.fieldPath, ctx.podIp);
  throw new Error(`container ${c.name}: env ${e.name} has an empty valueFrom`);
}

/** The uid the container will run as: its securityContext, the pod's, else the image's USER. */
function effectiveUid(c: Container, pod: Pod, imageUser: string): number | undefined {
  const uid = c.securityContext?.runAsUser ?? pod.spec.securityContext?.runAsUser;
  if (uid !== undefined) return uid;
  const user = imageUser.split(':')[0] ?? '';
  if (user === '' || user === 'root') return 0;
  return /^\d+$/.test(user) ? Number(user) : undefined;
}

export function dockerRunArgs(c: Container, ctx: ContainerContext): DockerRun {
  const { pod } = ctx;
  const podSc = pod.spec.securityContext ?? {};
  const sc = c.securityContext ?? {};
  const uid = effectiveUid(c, pod, ctx.imageUser);
  if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) === true) {
    // kubelet's verifyRunAsNonRoot, before the container is created.
    if (uid === undefined) throw new Error(`container ${c.name}: image has non-numeric user (${ctx.imageUser}), cannot verify user is non-root (CreateContainerConfigError)`);
    if (uid === 0) throw new Error(`container ${c.name}: container has runAsNonRoot and image will run as root (CreateContainerConfigError)`);
  }

  const args = ['run', '-d', '--name', ctx.name, '--network', `container:${ctx.pause}`, '--ipc', `container:${ctx.pause}`,
    // CRI runtimes ignore an image's HEALTHCHECK; only the pod's probes count.
    '--no-healthcheck', '--restart', ctx.restart];
  if (pod.spec.shareProcessNamespace === true) args.push('--pid', `container:${ctx.pause}`);
  for (const [k, v] of Object.entries(ctx.labels)) args.push('--label', `${k}=${v}`);

  const runAsUser = sc.runAsUser ?? podSc.runAsUser;
  const runAsGroup = sc.runAsGroup ?? podSc.runAsGroup;
  if (runAsUser !== undefined || runAsGroup !== undefined) {
    const user = runAsUser ?? (ctx.imageUser.split(':')[0] || '0');
    args.push('--user', runAsGroup === undefined ? String(user) : `${user}:${runAsGroup}`);
  }
  for (const g of [...(podSc.fsGroup !== undefined ? [podSc.fsGroup] : []), ...(podSc.supplementalGroups ?? [])]) args.push('--group-add', String(g));

  for (const cap of sc.capabilities?.drop ?? []) args.push('--cap-drop', cap);
  for (const cap of sc.capabilities?.add ?? []) args.push('--cap-add', cap);
  if (sc.allowPrivilegeEscalation === false) args.push('--security-opt', 'no-new-privileges');
  if (sc.readOnlyRootFilesystem === true) args.push('--read-only');
  if (sc.privileged === true) args.push('--privileged');
  // Kubernetes' default is Unconfined unless the pod asks for RuntimeDefault (kubelet's
  // --seccomp-default is off by default); Docker's default is its profile.
  const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type ?? 'Unconfined';
  if (seccomp === 'Unconfined' && sc.privileged !== true) args.push('--security-opt', 'seccomp=unconfined');

  // kubelet bind-mounts the pod's resolv.conf into every container.
  args.push('--mount', `type=bind,source=${ctx.resolvConf},target=/etc/resolv.conf,readonly`);
  for (const m of c.volumeMounts ?? []) {
    const volume = ctx.volumes.get(m.name);
    if (volume === undefined) throw new Error(`container ${c.name}: volume ${m.name} (checked earlier)`);
    if (m.subPath !== undefined && (m.subPath.startsWith('/') || m.subPath.split('/').includes('..'))) {
      throw new Error(`container ${c.name}: subPath ${m.subPath} escapes volume ${m.name}`);
    }
    const source = m.subPath === undefined || m.subPath === '' ? volume.hostPath : join(volume.hostPath, m.subPath);
    const readOnly = volume.alwaysReadOnly || m.readOnly === true;
    args.push('--mount', `type=bind,source=${source},target=${m.mountPath}${readOnly ? ',readonly' : ''}`);
  }

  const vars = containerEnv(c, ctx);
  const env: Record<string, string> = {};
  for (const [name, value] of vars) {
    args.push('-e', name);
    env[name] = value;
  }
  if (c.workingDir !== undefined) args.push('-w', c.workingDir);

  const command = (c.command ?? []).map((s) => expand(s, vars));
  const rest = (c.args ?? []).map((s) => expand(s, vars));
  const [entrypoint, ...entryArgs] = command;
  if (entrypoint !== undefined) args.push('--entrypoint', entrypoint);
  // `--entrypoint` also clears the image's CMD, as `command` without `args` does in Kubernetes.
  args.push(ctx.image, ...entryArgs, ...rest);
  return { args, env, uid };
}
