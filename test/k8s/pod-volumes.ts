// The pod's volumes as kubelet lays them out on the node, in a temporary folder that the runner
// bind-mounts into the containers.
//
// Secret and ConfigMap volumes use kubelet's AtomicWriter layout, which sluice must live with
// (DESIGN §7): the files sit in a timestamped folder `..2026_12_04_19_00_00.123456789`, a
// symlink `..data` points at it, and each top-level name is a symlink through `..data`. An update
// writes a new timestamped folder and swaps `..data` with one rename, so a reader sees either the
// old set of files or the new one, and a watcher sees a rename rather than a write.
// Ownership follows kubelet too: files are root's with `defaultMode` (0644); with an fsGroup
// their group becomes it, and read access for that group is added (SetVolumeOwnership).
import { chmodSync, chownSync, lchownSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { quantityBytes, type KeyToPath, type Volume } from './pod-spec.ts';

/** ConfigMaps and Secrets by name, each key → content (what `kubectl create … --from-file` stores). */
export interface PodObjects {
  configMaps: Record<string, Record<string, string>>;
  secrets: Record<string, Record<string, string>>;
}

export interface PreparedVolume {
  name: string;
  /** Host folder that holds the volume. */
  hostPath: string;
  /** Secret and ConfigMap volumes are always mounted read-only by kubelet. */
  alwaysReadOnly: boolean;
  /** A tmpfs the runner mounted on the host (emptyDir medium Memory): unmount before removing. */
  tmpfs?: boolean;
  /** The object it projects, for updates. */
  source?: { kind: 'configMap' | 'secret'; name: string; items?: KeyToPath[]; defaultMode: number };
}

let sequence = 0;

// Ownership needs root (the runner is root-only); a non-root caller keeps its own, for unit tests.
const chownIfRoot = (path: string, uid: number, gid: number, link = false): void => {
  if (process.getuid?.() !== 0) return;
  (link ? lchownSync : chownSync)(path, uid, gid);
};

function timestampDirName(): string {
  const now = new Date();
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  sequence = (sequence + 1) % 1000;
  return `..${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_`
    + `${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}.${p(now.getUTCMilliseconds(), 3)}${p(process.pid % 1000, 3)}${p(sequence, 3)}`;
}

/** The files a Secret/ConfigMap volume shows: every key, or only `items` (each with its own path and mode). */
function projectedFiles(data: Record<string, string>, items: KeyToPath[] | undefined, defaultMode: number, what: string):
  { path: string; content: string; mode: number }[] {
  if (items === undefined) return Object.entries(data).map(([key, content]) => ({ path: key, content, mode: defaultMode }));
  return items.map((item) => {
    const content = data[item.key];
    // kubelet refuses to start the pod (CreateContainerConfigError) rather than mount a partial volume.
    if (content === undefined) throw new Error(`${what} has no key ${item.key}`);
    if (item.path.split('/').includes('..') || item.path.startsWith('/')) throw new Error(`${what}: item path ${item.path} escapes the volume`);
    return { path: item.path, content, mode: item.mode ?? defaultMode };
  });
}

/** Writes a new timestamped folder and swaps `..data` to it atomically; removes the old one. */
export function writeAtomic(root: string, files: { path: string; content: string; mode: number }[], fsGroup: number | undefined): void {
  const ts = timestampDirName();
  const tsDir = join(root, ts);
  mkdirSync(tsDir, { mode: 0o755 });
  for (const file of files) {
    const target = join(tsDir, file.path);
    mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
    writeFileSync(target, file.content, { mode: file.mode });
    // SetVolumeOwnership on a read-only volume: group fsGroup, plus group read.
    const mode = fsGroup === undefined ? file.mode : file.mode | 0o440;
    chmodSync(target, mode);
    chownIfRoot(target, 0, fsGroup ?? 0);
  }
  let old: string | undefined;
  try {
    old = readlinkSync(join(root, '..data'));
  } catch {
    old = undefined;
  }
  const tmpLink = join(root, '..data_tmp');
  rmSync(tmpLink, { force: true });
  symlinkSync(ts, tmpLink);
  chownIfRoot(tmpLink, 0, fsGroup ?? 0, true);
  renameSync(tmpLink, join(root, '..data'));
  for (const top of new Set(files.map((f) => f.path.split('/')[0] as string))) {
    const link = join(root, top);
    try {
      readlinkSync(link);
    } catch {
      symlinkSync(join('..data', top), link);
    }
  }
  if (old !== undefined && old !== ts) rmSync(join(root, old), { recursive: true, force: true });
}

/** Creates the host side of every volume under podDir; returns them by name. */
export function prepareVolumes(volumes: Volume[], objects: PodObjects, podDir: string, fsGroup: number | undefined): Map<string, PreparedVolume> {
  const prepared = new Map<string, PreparedVolume>();
  for (const volume of volumes) {
    const hostPath = join(podDir, 'volumes', volume.name);
    mkdirSync(hostPath, { recursive: true });
    if (volume.emptyDir !== undefined) {
      const memory = volume.emptyDir.medium === 'Memory';
      if (memory) {
        const size = volume.emptyDir.sizeLimit === undefined ? '' : `,size=${quantityBytes(String(volume.emptyDir.sizeLimit))}`;
        // Recorded before mounting, so that a failed mount is still looked at on cleanup.
        prepared.set(volume.name, { name: volume.name, hostPath, alwaysReadOnly: false, tmpfs: true });
        const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `mode=0777${size}`, 'tmpfs', hostPath], { encoding: 'utf8', timeout: 10_000 });
        if (mounted.status !== 0) throw new Error(`volume ${volume.name}: mount tmpfs: ${mounted.stderr}`);
      }
      // kubelet creates emptyDir world-writable; with an fsGroup, group-owned and setgid.
      chmodSync(hostPath, fsGroup === undefined ? 0o777 : 0o2777);
      if (fsGroup !== undefined) chownIfRoot(hostPath, 0, fsGroup);
      prepared.set(volume.name, { name: volume.name, hostPath, alwaysReadOnly: false, ...(memory ? { tmpfs: true } : {}) });
      continue;
    }
    const kind = volume.secret !== undefined ? 'secret' : 'configMap';
    const ref = volume.secret !== undefined
      ? { name: volume.secret.secretName, items: volume.secret.items, defaultMode: volume.secret.defaultMode ?? 0o644, optional: volume.secret.optional }
      : { name: volume.configMap!.name, items: volume.configMap!.items, defaultMode: volume.configMap!.defaultMode ?? 0o644, optional: volume.configMap!.optional };
    const data = (kind === 'secret' ? objects.secrets : objects.configMaps)[ref.name];
    if (data === undefined && ref.optional !== true) {
      throw new Error(`volume ${volume.name}: ${kind} ${ref.name} does not exist (kubelet would keep the pod in ContainerCreating)`);
    }
    chmodSync(hostPath, fsGroup === undefined ? 0o1777 : 0o3777);
    if (fsGroup !== undefined) chownIfRoot(hostPath, 0, fsGroup);
    writeAtomic(hostPath, projectedFiles(data ?? {}, ref.items, ref.defaultMode, `${kind} ${ref.name}`), fsGroup);
    prepared.set(volume.name, {
      name: volume.name, hostPath, alwaysReadOnly: true,
      source: { kind, name: ref.name, ...(ref.items !== undefined ? { items: ref.items } : {}), defaultMode: ref.defaultMode },
    });
  }
  return prepared;
}

/** A ConfigMap or Secret changed: every volume that projects it gets kubelet's atomic swap. */
export function updateVolumes(prepared: Map<string, PreparedVolume>, kind: 'configMap' | 'secret', name: string,
  data: Record<string, string>, fsGroup: number | undefined): number {
  let updated = 0;
  for (const volume of prepared.values()) {
    if (volume.source?.kind !== kind || volume.source.name !== name) continue;
    writeAtomic(volume.hostPath, projectedFiles(data, volume.source.items, volume.source.defaultMode, `${kind} ${name}`), fsGroup);
    updated++;
  }
  return updated;
}

/** Unmounts every tmpfs under a pod folder (this run's, or one a killed run left). */
export function unmountVolumes(podDir: string): string[] {
  const errors: string[] = [];
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(`${podDir}/`)).reverse();
  for (const m of mounts) {
    const result = spawnSync('umount', [m], { encoding: 'utf8', timeout: 10_000 });
    if (result.status !== 0) errors.push(`umount ${m}: ${result.stderr.trim()}`);
  }
  return errors;
}
