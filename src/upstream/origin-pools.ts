// One undici Pool per upstream origin: made on first use, closed once it holds no connection
// and no request (so a wildcard rule's many hosts do not pile up pools). undici's HTTP/2 client
// (gRPC) has no idle timeout of its own and keeps its session alive with pings, so an h2 pool
// would stay for as long as the upstream kept the session open (its Agent kept such pools as
// long). Here one found without requests at two sweeps in a row, keepAliveTimeout apart, with
// no request given to it in between, is closed: after one to three keepAliveTimeouts unused.
//
// This takes the place of undici's Agent, whose bookkeeping (undici 7.30) keys its count of
// connections by origin, not by pool. When it closes a pool whose count reached zero, that pool
// can still have a connection opening or closing, and that connection's 'connect' and
// 'disconnect' then change the count of the new pool under the same origin. That pool is closed
// in turn, with warm connections and requests running, and the next one after it. In
// bench/llm-stream.ts, 100 concurrent streaming calls made 39–100 new upstream TLS connections
// in the measured window through sluice in four runs of nine, and none through node-floor;
// the event loop lagged 14–37 ms at p99 in those runs and 3.5–8.4 ms in the others. Here each
// pool's own events decide its own fate, and only while it is still the origin's pool: no new
// connection in the window in five runs of five, lag p99 4.9–7.7 ms (node-floor 2.4–5.7).
import { createRequire } from 'node:module';
import type { Dispatcher, Pool } from 'undici';

const require = createRequire(import.meta.url);
// undici's pool module only: its entry point loads fetch, WebSocket and caches too (agent.ts).
const UndiciPool = require('undici/lib/dispatcher/pool.js') as typeof Pool;

/** How soon a pool that lost its last connection with requests still queued is looked at again. */
export const RECHECK_MS = 1_000;

export interface OriginPools {
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean;
  /** Closes every pool (requests running finish first); sluice is stopping. */
  close(): Promise<void>;
  /** Pools held now (tests, metrics). */
  readonly size: number;
  /** Looks (RECHECK_MS) pending at whether a pool can go: at most one per pool (tests). */
  readonly rechecking: number;
}

export type PoolFactory = (origin: string, options: Pool.Options) => Pool;

const undiciPool: PoolFactory = (origin, options) => new UndiciPool(origin, options);

/** A pool and, for HTTP/2 pools, what the idle sweep saw of it. */
interface Entry {
  readonly pool: Pool;
  /** Given a request since the last sweep. */
  used: boolean;
  /** Without requests at the last sweep. */
  idleSeen: boolean;
}

export function createOriginPools(options: Pool.Options, factory: PoolFactory = undiciPool): OriginPools {
  const pools = new Map<string, Entry>();
  /**
   * Pools with a look pending: at most one each. Every failed connection of a pool with requests
   * queued asks again, and a timer per ask piled up timers without bound while an upstream kept
   * failing (an attacker's review: 160k timers and +270 MiB in 30 s).
   */
  const rechecking = new Set<Pool>();
  /** Timers actually pending: what `rechecking` reports, so a test sees a broken guard (the Set alone cannot). */
  let timersPending = 0;
  let closed = false;
  const h2 = options.allowH2 === true;
  let sweeper: NodeJS.Timeout | undefined;

  const retire = (origin: string, pool: Pool): void => {
    pools.delete(origin);
    pool.close().catch(() => undefined);
  };

  /** Closes each HTTP/2 pool found idle at this sweep and the one before, with no request between. */
  const sweepH2 = (): void => {
    for (const [origin, entry] of pools) {
      const idle = entry.pool.stats.size === 0 && !entry.used;
      if (idle && entry.idleSeen) {
        retire(origin, entry.pool);
        continue;
      }
      entry.idleSeen = idle;
      entry.used = false;
    }
  };

  /** Closes `pool` if it is still `origin`'s pool and holds nothing; looks again later while requests wait. */
  const retireIfUnused = (origin: string, pool: Pool): void => {
    if (pools.get(origin)?.pool !== pool) return;
    const stats = pool.stats;
    if (stats.connected > 0) return; // its next 'disconnect' asks again
    if (stats.size > 0) {
      if (rechecking.has(pool)) return;
      rechecking.add(pool);
      timersPending++;
      setTimeout(() => {
        timersPending--;
        rechecking.delete(pool);
        retireIfUnused(origin, pool);
      }, RECHECK_MS).unref();
      return;
    }
    retire(origin, pool);
  };

  return {
    dispatch(options_, handler) {
      const origin = String(options_.origin);
      if (closed) {
        // Refused as undici refuses on a closed dispatcher: ClientClosedError to the handler.
        const refusing = factory(origin, options);
        refusing.close().catch(() => undefined);
        return refusing.dispatch(options_, handler);
      }
      let entry = pools.get(origin);
      if (entry === undefined) {
        const created = factory(origin, options);
        created.on('disconnect', () => retireIfUnused(origin, created));
        created.on('connectionError', () => retireIfUnused(origin, created));
        entry = { pool: created, used: true, idleSeen: false };
        pools.set(origin, entry);
        // undici's h2 client never closes an idle session (header comment).
        if (h2) sweeper ??= setInterval(sweepH2, options.keepAliveTimeout ?? 4_000).unref();
      }
      entry.used = true;
      return entry.pool.dispatch(options_, handler);
    },
    async close() {
      closed = true;
      clearInterval(sweeper);
      const all = [...pools.values()];
      pools.clear();
      await Promise.all(all.map((e) => e.pool.close()));
    },
    get size() {
      return pools.size;
    },
    get rechecking() {
      return timersPending;
    },
  };
}
