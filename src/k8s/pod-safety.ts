// What injection refuses (DESIGN.md §7): a pod in which the agent could slip past the capture
// or read sluice's secrets. Each reason names the container, so `sluice inject` and the
// webhook's `allowed: false` tell the operator exactly what to change.
import { INIT_CONTAINER, SECRET_CA, SECRET_SECRETS, SIDECAR_CONTAINER, SLUICE_UID, SLUICE_VOLUMES } from './constants.ts';
import type { Container, PodSpec, Volume } from './types.ts';

/**
 * Capabilities that let an app container change or bypass the capture. NET_ADMIN rewrites
 * iptables; NET_RAW is named by the design (raw sockets, kept off agents); SYS_ADMIN implies
 * privilege escalation and mount/namespace tricks; ALL includes them all. Capabilities a
 * runtime grants by default are not "added" and a non-root process does not hold them; a
 * setuid binary cannot gain one outside the bounding set, so allowPrivilegeEscalation alone
 * does not let a container gain these.
 */
const DANGEROUS_CAPABILITIES = new Set(['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', 'ALL']);

function normaliseCapability(name: string): string {
  const upper = name.toUpperCase();
  return upper.startsWith('CAP_') ? upper.slice(4) : upper;
}

function containerProblem(container: Container, kind: string, podRunAsUser: number | undefined): string | undefined {
  const where = `${kind} "${container.name}"`;
  const sc = container.securityContext ?? {};
  const uid = sc.runAsUser ?? podRunAsUser;
  if (uid === SLUICE_UID) {
    const from = sc.runAsUser === undefined ? ' (inherited from the pod securityContext)' : '';
    return `${where} runs as uid ${SLUICE_UID}${from}, the uid the capture exempts: it would bypass sluice; give it another runAsUser`;
  }
  if (sc.privileged === true) return `${where} is privileged: it could remove the capture rules`;
  const added = (sc.capabilities?.add ?? []).map(normaliseCapability).filter((c) => DANGEROUS_CAPABILITIES.has(c));
  if (added.length > 0) return `${where} adds capability ${added.join(', ')}: it could change or bypass the capture rules`;
  return undefined;
}

/** Secrets only sluice may read: the CA key and the real credentials. */
const SLUICE_SECRETS = new Set([SECRET_CA, SECRET_SECRETS]);

/** An app container that would receive sluice's secrets through the pod spec itself. */
function secretLeak(container: Container, where: string): string | undefined {
  for (const mount of container.volumeMounts ?? []) {
    if (SLUICE_VOLUMES.includes(mount.name)) return `${where} mounts "${mount.name}", a volume only sluice may mount`;
  }
  for (const env of container.env ?? []) {
    const ref = (env['valueFrom'] as { secretKeyRef?: { name?: string } } | undefined)?.secretKeyRef?.name;
    if (ref !== undefined && SLUICE_SECRETS.has(ref)) return `${where} reads the Secret ${ref} into $${env.name}: only sluice may read it`;
  }
  for (const from of (container['envFrom'] as Array<{ secretRef?: { name?: string } }> | undefined) ?? []) {
    const ref = from.secretRef?.name;
    if (ref !== undefined && SLUICE_SECRETS.has(ref)) return `${where} loads the Secret ${ref} into its environment: only sluice may read it`;
  }
  return undefined;
}

/** A pod volume of the app's that holds one of sluice's Secrets (directly or projected). */
function secretVolume(volume: Volume): string | undefined {
  const direct = (volume['secret'] as { secretName?: string } | undefined)?.secretName;
  const projected = ((volume['projected'] as { sources?: Array<{ secret?: { name?: string } }> } | undefined)?.sources ?? []).map((src) => src.secret?.name);
  const found = [direct, ...projected].find((name) => name !== undefined && SLUICE_SECRETS.has(name));
  return found === undefined ? undefined : `volume "${volume.name}" holds the Secret ${found}: only sluice may mount it`;
}

/** The reason this pod cannot be injected safely, or undefined when it can. */
export function unsafePodReason(spec: PodSpec): string | undefined {
  if (spec.hostNetwork === true) return 'the pod uses hostNetwork: sluice would capture the node\'s traffic, not the pod\'s';
  if (spec.shareProcessNamespace === true) return 'the pod sets shareProcessNamespace: the agent could read sluice\'s memory and environment';
  // hostPID exposes sluice's processes (and through /proc/PID/root its secret volumes) just the same.
  if (spec.hostPID === true) return 'the pod sets hostPID: the agent could read sluice\'s memory and environment';
  const podUid = spec.securityContext?.runAsUser;
  const groups: Array<[string, Container[]]> = [['init container', spec.initContainers ?? []], ['container', spec.containers]];
  for (const [kind, list] of groups) {
    for (const container of list) {
      if (container.name === INIT_CONTAINER || container.name === SIDECAR_CONTAINER) {
        return `${kind} "${container.name}" clashes with sluice's own container name`;
      }
      const problem = containerProblem(container, kind, podUid) ?? secretLeak(container, `${kind} "${container.name}"`);
      if (problem !== undefined) return problem;
    }
  }
  const clash = (spec.volumes ?? []).find((v) => SLUICE_VOLUMES.includes(v.name));
  if (clash !== undefined) return `volume "${clash.name}" clashes with a volume sluice adds`;
  for (const volume of spec.volumes ?? []) {
    const leak = secretVolume(volume);
    if (leak !== undefined) return leak;
  }
  return undefined;
}
