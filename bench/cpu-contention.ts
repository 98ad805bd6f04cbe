// How much CPU something other than the bench used while a peer was measured: the machine's
// busy time (/proc/stat) minus the bench's own (this process, every child it has reaped —
// load tools and stopped peers — and the still-running origin). On a 2-core machine shared
// with other work this is what makes two runs disagree, so the report prints it per peer.
import { readFile } from 'node:fs/promises';
import { processTree } from './proc-memory.ts';

export interface CpuSnapshot {
  atMs: number;
  busyTicks: number;
  stealTicks: number;
  benchTicks: number;
}

/** utime + stime (+ reaped children's) of one process, in clock ticks. */
async function processTicks(pid: number | 'self', withChildren: boolean): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    // After the command name: state is f[0], so utime (field 14) is f[11], stime f[12],
    // cutime f[13], cstime f[14].
    const own = (f[11] ?? 0) + (f[12] ?? 0);
    return withChildren ? own + (f[13] ?? 0) + (f[14] ?? 0) : own;
  } catch {
    return 0;
  }
}

export async function cpuSnapshot(originPid: number | undefined): Promise<CpuSnapshot> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const [, user = 0, nice = 0, system = 0, , , , , steal = 0] = line.trim().split(/\s+/).map(Number);
  let benchTicks = await processTicks('self', true);
  // The origin is alive for the whole run, so its time is not in our cutime yet.
  if (originPid !== undefined) for (const pid of await processTree(originPid)) benchTicks += await processTicks(pid, false);
  return { atMs: Date.now(), busyTicks: user + nice + system, stealTicks: steal, benchTicks };
}

/** CPU time of a process tree so far (live processes plus the children they reaped), ticks. */
export async function treeCpuTicks(root: number): Promise<number> {
  let sum = 0;
  for (const pid of await processTree(root)) sum += await processTicks(pid, true);
  return sum;
}

export const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export interface Contention {
  /** CPU used by other processes, in cores (1.0 = one core fully busy). */
  otherCores: number;
  /** Time the hypervisor gave to other guests, in cores. */
  stealCores: number;
}

export function contentionBetween(a: CpuSnapshot, b: CpuSnapshot): Contention {
  const seconds = Math.max(0.001, (b.atMs - a.atMs) / 1000);
  const other = b.busyTicks - a.busyTicks - (b.benchTicks - a.benchTicks);
  return {
    otherCores: Math.max(0, other) / TICKS_PER_SECOND / seconds,
    stealCores: (b.stealTicks - a.stealTicks) / TICKS_PER_SECOND / seconds,
  };
}
