// The options shared by `sluice inject` and `sluice webhook`: image, sidecar mode, and the uid
// and ports of the pod's sluice.toml (its capture rules must land on its listeners).
import { readFile } from 'node:fs/promises';
import { DEFAULT_IMAGE, SLUICE_VERSION } from './constants.ts';
import type { InjectOptions } from './inject-pod.ts';
import { capturePortsOf, checkPodConfig, type PodConfigReport } from './pod-config.ts';
import type { SidecarMode } from './sidecar-containers.ts';

export const IMAGE_ENV = 'SLUICE_IMAGE';

export function parseSidecarMode(value: string | undefined): SidecarMode {
  if (value === undefined || value === 'native') return 'native';
  if (value === 'container') return 'container';
  throw new Error(`--sidecar must be "native" (Kubernetes 1.29+) or "container", not ${JSON.stringify(value)}`);
}

export interface ResolvedInjectOptions {
  options: InjectOptions;
  /** The checked config, when one was given. */
  report?: PodConfigReport;
}

export async function resolveInjectOptions(args: { config?: string; image?: string; sidecar?: string }): Promise<ResolvedInjectOptions> {
  const mode = parseSidecarMode(args.sidecar);
  const image = args.image ?? (process.env[IMAGE_ENV] || undefined) ?? DEFAULT_IMAGE;
  let report: PodConfigReport | undefined;
  if (args.config !== undefined) report = checkPodConfig(await readFile(args.config, 'utf8'));
  const { uid, ports } = capturePortsOf(report?.config);
  return { options: { image, mode, uid, ports, version: SLUICE_VERSION }, report };
}
