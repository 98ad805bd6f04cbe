// Memory of a peer, measured as the sum over its whole process tree (squid has helper
// processes; sluice and mitmproxy are one process each) from /proc/PID/status.
import { readdir, readFile, writeFile } from 'node:fs/promises';

async function parentOf(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: parse after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return undefined;
  }
}

/** `root` and every live descendant. */
export async function processTree(root: number): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n)).map(Number);
  const children = new Map<number, number[]>();
  for (const pid of pids) {
    const parent = await parentOf(pid);
    if (parent === undefined) continue;
    const list = children.get(parent) ?? [];
    list.push(pid);
    children.set(parent, list);
  }
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

async function statusKib(pid: number, field: 'VmRSS' | 'VmHWM' | 'RssAnon'): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return m?.[1] === undefined ? 0 : Number(m[1]);
  } catch {
    return 0; // exited between listing and reading
  }
}

/** Current resident set of the tree, KiB. */
export async function treeRssKib(root: number): Promise<number> {
  return treeSumKib(root, 'VmRSS');
}

async function treeSumKib(root: number, field: 'VmRSS' | 'RssAnon'): Promise<number> {
  let sum = 0;
  for (const pid of await processTree(root)) sum += await statusKib(pid, field);
  return sum;
}

/**
 * The anonymous part of the tree's resident set, KiB: what each copy of the peer costs. The
 * rest is file pages (mostly the executable's code), shared by every process running the same
 * binary, e.g. every sidecar of one image on a node.
 */
export async function treeRssAnonKib(root: number): Promise<number> {
  return treeSumKib(root, 'RssAnon');
}

/** Resets every process's peak-RSS mark (VmHWM) so a later read covers only what follows. */
export async function resetPeakRss(root: number): Promise<void> {
  for (const pid of await processTree(root)) {
    try {
      await writeFile(`/proc/${pid}/clear_refs`, '5');
    } catch {
      // exited
    }
  }
}

/** Sum of the tree's peak RSS since the last reset, KiB (an upper bound: peaks may not coincide). */
export async function treePeakRssKib(root: number): Promise<number> {
  let sum = 0;
  for (const pid of await processTree(root)) sum += await statusKib(pid, 'VmHWM');
  return sum;
}
