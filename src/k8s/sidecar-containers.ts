// The two containers sluice adds to a pod (DESIGN.md §7) and the volumes they mount. Kept as
// data so the golden tests, the webhook and the Docker runner all read one definition.
import { trustVariables } from '../cli/env.ts';
import { INIT_CONTAINER, POD_PATHS, SECRET_CA, SECRET_SECRETS, CONFIGMAP_CONFIG, CONFIGMAP_TRUST, SIDECAR_CONTAINER, VOLUME } from './constants.ts';
import type { Container, EnvVar, Volume, VolumeMount } from './types.ts';

/** The listener ports the capture rules redirect to; they must match the pod's sluice.toml. */
export interface CapturePorts {
  https: number;
  http: number;
  deny: number;
  dns: number;
  admin: number;
}

export const DEFAULT_PORTS: CapturePorts = { https: 15443, http: 15080, deny: 15001, dns: 15053, admin: 15000 };

export type SidecarMode = 'native' | 'container';

export interface SidecarOptions {
  image: string;
  mode: SidecarMode;
  uid: number;
  ports: CapturePorts;
}

const HEALTHCHECK = ['node', POD_PATHS.cli, 'healthcheck', '-c', POD_PATHS.config];

/** The init step: the capture rules, as root with NET_ADMIN and NET_RAW only. */
export function initContainer(o: SidecarOptions): Container {
  return {
    name: INIT_CONTAINER,
    image: o.image,
    imagePullPolicy: 'IfNotPresent',
    command: [POD_PATHS.initScript, 'apply'],
    env: [
      { name: 'SLUICE_UID', value: String(o.uid) },
      { name: 'SLUICE_HTTPS_PORT', value: String(o.ports.https) },
      { name: 'SLUICE_HTTP_PORT', value: String(o.ports.http) },
      { name: 'SLUICE_DENY_PORT', value: String(o.ports.deny) },
      { name: 'SLUICE_DNS_PORT', value: String(o.ports.dns) },
      { name: 'SLUICE_ADMIN_PORT', value: String(o.ports.admin) },
      // iptables-legacy locks /run/xtables.lock; the root filesystem is read-only.
      { name: 'XTABLES_LOCKFILE', value: '/tmp/xtables.lock' },
      { name: 'TMPDIR', value: '/tmp' },
    ],
    securityContext: {
      runAsUser: 0,
      runAsGroup: 0,
      // Overrides a pod-level runAsNonRoot, which would otherwise stop the rules from installing.
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
    volumeMounts: [{ name: VOLUME.initTmp, mountPath: '/tmp' }],
    resources: { requests: { cpu: '10m', memory: '32Mi' } },
  };
}

function probe(periodSeconds: number, failureThreshold: number): Record<string, unknown> {
  // Exec, not httpGet: the admin port listens on loopback and refuses every uid but sluice's.
  return { exec: { command: HEALTHCHECK }, periodSeconds, timeoutSeconds: 5, failureThreshold };
}

/** sluice itself: uid 1337, no capabilities, nothing writable but its log folder. */
export function sidecarContainer(o: SidecarOptions): Container {
  const container: Container = {
    name: SIDECAR_CONTAINER,
    image: o.image,
    imagePullPolicy: 'IfNotPresent',
    // Not the image's entrypoint: that one installs the rules as root; here sluice-init did.
    command: ['node', POD_PATHS.cli, 'run', '-c', POD_PATHS.config],
    securityContext: {
      runAsUser: o.uid,
      runAsGroup: o.uid,
      runAsNonRoot: true,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [
      { name: VOLUME.config, mountPath: POD_PATHS.configDir, readOnly: true },
      { name: VOLUME.ca, mountPath: POD_PATHS.caDir, readOnly: true },
      { name: VOLUME.secrets, mountPath: POD_PATHS.secretsDir, readOnly: true },
      { name: VOLUME.logs, mountPath: POD_PATHS.logDir },
    ],
    resources: { requests: { cpu: '100m', memory: '128Mi' } },
    startupProbe: probe(1, 120),
    readinessProbe: probe(5, 3),
    livenessProbe: probe(10, 3),
  };
  if (o.mode === 'native') return { ...container, restartPolicy: 'Always' };
  // Before 1.29: kubelet starts containers in order and waits for each postStart hook, so
  // the app starts only once sluice answers (Istio's holdApplicationUntilProxyStarts).
  const wait = `i=0; until ${HEALTHCHECK.join(' ')} >/dev/null 2>&1; do i=$((i+1)); [ "$i" -ge 120 ] && exit 1; sleep 1; done`;
  return { ...container, lifecycle: { postStart: { exec: { command: ['/bin/sh', '-c', wait] } } } };
}

/** Volumes sluice adds to the pod; Secret and ConfigMap volumes are read-only by nature. */
export function sluiceVolumes(): Volume[] {
  // Secret files are root-owned and the pod has no fsGroup (it would reach the app too), so
  // 0444 lets uid 1337 read them; only sluice's container mounts these volumes.
  return [
    { name: VOLUME.config, configMap: { name: CONFIGMAP_CONFIG } },
    { name: VOLUME.ca, secret: { secretName: SECRET_CA, defaultMode: 0o444 } },
    { name: VOLUME.secrets, secret: { secretName: SECRET_SECRETS, defaultMode: 0o444 } },
    { name: VOLUME.trust, configMap: { name: CONFIGMAP_TRUST } },
    { name: VOLUME.logs, emptyDir: {} },
    { name: VOLUME.initTmp, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
  ];
}

/** What every app container gets: the CA certificate and bundle, and the variables of §5. */
export function trustEnv(): EnvVar[] {
  return Object.entries(trustVariables(POD_PATHS.trustDir)).map(([name, value]) => ({ name, value }));
}

export function trustMount(): VolumeMount {
  return { name: VOLUME.trust, mountPath: POD_PATHS.trustDir, readOnly: true };
}
