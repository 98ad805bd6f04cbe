// Idle memory per connection: RSS of the peer's process tree before and after holding N
// idle keep-alive TLS connections open through it (each has completed one request, so the
// peer holds its client-side TLS state, HTTP parser and whatever upstream state it keeps).
// The runner restarts the peer for it (bench/run.ts): on a process that has freed memory
// before, the new connections reuse some of it and the figure shows less than they hold.
import { fileURLToPath } from 'node:url';
import { cleanEnv, jsonLineReader, nsExec, sleep, start, withTimeout } from './exec.ts';
import type { LoadContext } from './load.ts';
import { CLIENT_NS, ORIGIN_NAME } from './netns.ts';
import { treeRssKib } from './proc-memory.ts';

const IDLE_CLIENT = fileURLToPath(new URL('./idle-client.ts', import.meta.url));

export interface IdleMemoryResult {
  connections: number;
  failed: number;
  firstError: string;
  /** Connections still open when the "after" figure was read. */
  stillOpen: number;
  rssBeforeKib: number;
  rssAfterKib: number;
  kibPerConnection: number;
  openSeconds: number;
}

interface ReadyLine {
  opened: number;
  failed: number;
  firstError: string;
  ms: number;
}

export async function measureIdleMemory(ctx: LoadContext, peerPid: number, count: number): Promise<IdleMemoryResult> {
  await sleep(1000); // let the peer settle after its warm-up load
  const rssBeforeKib = await treeRssKib(peerPid);
  const holdSeconds = 60;
  const client = start(
    nsExec(CLIENT_NS, { uid: ctx.uid, cpu: ctx.cpu }, [
      process.execPath, IDLE_CLIENT, ORIGIN_NAME, '443', String(count), '50', String(holdSeconds),
    ]),
    cleanEnv(ctx.home),
    'pipe',
  );
  try {
    if (client.child.stdout === null || client.child.stdin === null) throw new Error('idle client: no pipes');
    const next = jsonLineReader(client.child.stdout);
    const ready = (await withTimeout(next(), 45_000, 'idle client')) as ReadyLine;
    await sleep(2000); // idle: let buffers be released and any lazy cleanup run
    const rssAfterKib = await treeRssKib(peerPid);
    client.child.stdin.end();
    const { stillOpen } = (await withTimeout(next(), 10_000, 'idle client close')) as { stillOpen: number };
    const held = Math.max(1, stillOpen);
    return {
      connections: ready.opened,
      failed: ready.failed,
      firstError: ready.firstError,
      stillOpen,
      rssBeforeKib,
      rssAfterKib,
      kibPerConnection: (rssAfterKib - rssBeforeKib) / held,
      openSeconds: ready.ms / 1000,
    };
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${client.output()}`, { cause: err });
  } finally {
    await client.stop(2000);
  }
}
