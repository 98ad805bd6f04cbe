// Names and paths an injected pod is built from (DESIGN.md §7). The objects the pod refers to
// live in the pod's own namespace; an operator creates them, or `sluice k8s bootstrap` prints them.
import { readFileSync } from 'node:fs';

/** Namespace label that opts every pod in (Istio: istio-injection=enabled). */
export const INJECT_LABEL = 'sluice.dev/inject';
/** Marks an injected pod; injecting again changes nothing. */
export const STATUS_ANNOTATION = 'sluice.dev/status';
export const STATUS_INJECTED = 'injected';
/** The sluice version that injected the pod (an upgrade re-injects). */
export const VERSION_ANNOTATION = 'sluice.dev/version';

export const INIT_CONTAINER = 'sluice-init';
export const SIDECAR_CONTAINER = 'sluice';

/** The uid the capture rules exempt; sluice runs as it and no app container may. */
export const SLUICE_UID = 1337;

export const SECRET_CA = 'sluice-ca';
export const SECRET_SECRETS = 'sluice-secrets';
export const CONFIGMAP_CONFIG = 'sluice-config';
export const CONFIGMAP_TRUST = 'sluice-trust';

/** Volume names in the pod (each object's name, plus the two emptyDirs). */
export const VOLUME = {
  config: 'sluice-config',
  ca: 'sluice-ca',
  secrets: 'sluice-secrets',
  trust: 'sluice-trust',
  logs: 'sluice-logs',
  initTmp: 'sluice-init-tmp',
} as const;
export const SLUICE_VOLUMES: readonly string[] = Object.values(VOLUME);

/** Where things are inside sluice's container; the pod's sluice.toml must use these folders. */
export const POD_PATHS = {
  configDir: '/sluice/config',
  config: '/sluice/config/sluice.toml',
  caDir: '/sluice/ca',
  secretsDir: '/sluice/secrets',
  logDir: '/sluice/logs',
  /** In every app container, read-only: ca.crt and ca-bundle.crt. */
  trustDir: '/etc/sluice',
  /** The image's layout (docker/Dockerfile). */
  cli: '/app/bin/sluice.js',
  initScript: '/app/iptables/sluice-init.sh',
} as const;

function readVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** sluice's version, from package.json. */
export const SLUICE_VERSION = readVersion();
/** The image injected unless --image or SLUICE_IMAGE says otherwise. */
export const DEFAULT_IMAGE = `sluice:${SLUICE_VERSION}`;
