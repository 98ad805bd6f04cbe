// sluice.toml as the injected pod reads it: from the sluice-config ConfigMap at
// /sluice/config/sluice.toml, with the CA (Secret sluice-ca) at /sluice/ca, the real secrets
// (Secret sluice-secrets) at /sluice/secrets and the logs (an emptyDir) at /sluice/logs.
// Relative folders resolve beside the config file, inside the read-only ConfigMap, so the pod's
// file names these folders; `sluice k8s bootstrap` writes them in when the file has none.
import { parse } from 'smol-toml';
import { parseConfig } from '../config/load.ts';
import type { Config, SecretSource } from '../config/types.ts';
import { POD_PATHS } from './constants.ts';
import { DEFAULT_PORTS, type CapturePorts } from './sidecar-containers.ts';
import { isObject } from './types.ts';

export interface PodConfigReport {
  config: Config;
  /** Things that stop sluice from working in the pod. */
  problems: string[];
  /** Things that work but should be looked at. */
  warnings: string[];
  /** Keys the Secret sluice-secrets needs (file sources under /sluice/secrets). */
  secretKeys: string[];
}

function sourcesOf(config: Config): Array<[string, SecretSource]> {
  const out: Array<[string, SecretSource]> = [];
  for (const c of config.credentials) {
    if (c.type === 'aws') {
      out.push([`${c.name}.access_key_id`, c.accessKeyId], [`${c.name}.secret_access_key`, c.secretAccessKey]);
      if (c.sessionToken !== undefined) out.push([`${c.name}.session_token`, c.sessionToken]);
    } else {
      out.push([`${c.name}.secret`, c.secret]);
    }
  }
  return out;
}

/** Checks a sluice.toml for the pod layout; throws ConfigError if it is not valid at all. */
export function checkPodConfig(source: string): PodConfigReport {
  const config = parseConfig(source, POD_PATHS.config);
  const problems: string[] = [];
  const warnings: string[] = [];
  const secretKeys: string[] = [];
  if (config.proxy.caDir !== POD_PATHS.caDir) problems.push(`proxy.ca_dir is ${config.proxy.caDir} in the pod; set ca_dir = "${POD_PATHS.caDir}" (the Secret sluice-ca)`);
  if (config.proxy.logDir !== POD_PATHS.logDir) problems.push(`proxy.log_dir is ${config.proxy.logDir} in the pod; set log_dir = "${POD_PATHS.logDir}" (sluice's own emptyDir)`);
  for (const [key, src] of sourcesOf(config)) {
    if (src.kind === 'env') {
      problems.push(`credentials.${key} reads $${src.name}; in the pod real secrets come from the Secret sluice-secrets: use { file = "${POD_PATHS.secretsDir}/KEY" }`);
    } else if (src.path.startsWith(`${POD_PATHS.secretsDir}/`) && !src.path.slice(POD_PATHS.secretsDir.length + 1).includes('/')) {
      secretKeys.push(src.path.slice(POD_PATHS.secretsDir.length + 1));
    } else {
      problems.push(`credentials.${key} reads ${src.path}; in the pod use { file = "${POD_PATHS.secretsDir}/KEY" } (a key of the Secret sluice-secrets)`);
    }
  }
  if (config.dns.upstream === undefined) {
    warnings.push('[dns] upstream is not set: sluice resolves through the pod\'s resolv.conf, which the app container shares; set it to the cluster DNS Service address (kubectl -n kube-system get svc kube-dns)');
  }
  return { config, problems, warnings, secretKeys: [...new Set(secretKeys)].sort() };
}

export function capturePortsOf(config: Config | undefined): { uid: number; ports: CapturePorts } {
  if (config === undefined) return { uid: 1337, ports: DEFAULT_PORTS };
  const p = config.proxy;
  return { uid: p.uid, ports: { https: p.httpsPort, http: p.httpPort, deny: p.denyPort, dns: p.dnsPort, admin: p.adminPort } };
}

/**
 * The file with ca_dir and log_dir set to the pod's folders where it sets neither. A file that
 * sets one to another folder is left to its author (an error names the line to change).
 */
export function withPodFolders(source: string): string {
  const raw = parse(source);
  const proxy = isObject(raw['proxy']) ? raw['proxy'] : undefined;
  const wanted: Array<[string, string]> = [['ca_dir', POD_PATHS.caDir], ['log_dir', POD_PATHS.logDir]];
  const missing: string[] = [];
  for (const [key, value] of wanted) {
    const current = proxy?.[key];
    if (current === undefined) missing.push(`${key} = "${value}"`);
    else if (current !== value) throw new Error(`sluice.toml sets proxy.${key} = "${String(current)}"; in the pod it must be "${value}" (change or remove that line)`);
  }
  if (missing.length === 0) return source;
  const note = '# set by `sluice k8s bootstrap`: the folders of the injected pod';
  const lines = source.split('\n');
  const header = lines.findIndex((l) => /^\s*\[proxy\]\s*(?:#.*)?$/.test(l));
  if (header >= 0) {
    lines.splice(header + 1, 0, note, ...missing);
    return lines.join('\n');
  }
  // No [proxy] table: one at the top, before any other table.
  return [`[proxy]`, note, ...missing, '', source].join('\n');
}
