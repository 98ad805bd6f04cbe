// Watches sluice.toml for changes, so `sluice run` reloads the policy.
//
// Editors replace files (write a temp file, rename it over), so the folder is watched and
// events are filtered by name. A Kubernetes ConfigMap volume changes differently: kubelet's
// AtomicWriter writes a new timestamped folder, points a `..data_tmp` symlink at it and renames
// that over `..data`; `sluice.toml` is a symlink to `..data/sluice.toml` that itself never
// changes. So a rename of `..data` is a change of the file too.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

/** kubelet's AtomicWriter: the symlink that is swapped when a ConfigMap or Secret changes. */
export const KUBELET_DATA_LINK = '..data';

export interface ConfigWatch {
  close(): void;
}

/** Calls `onChange` (debounced by `debounceMs`) after the file or its ConfigMap changes. */
export function watchConfigFile(file: string, onChange: () => void, debounceMs = 200): ConfigWatch {
  const base = basename(file);
  let debounce: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(dirname(file), (_event, name) => {
    // No name: the platform did not say which entry changed; reloading is harmless.
    if (name !== null && name !== base && name !== KUBELET_DATA_LINK) return;
    clearTimeout(debounce);
    debounce = setTimeout(onChange, debounceMs);
  });
  return {
    close: () => {
      clearTimeout(debounce);
      watcher.close();
    },
  };
}
