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

export function createOriginPools(options: Pool.Options, factory: PoolFactory = undiciPool): OriginPools {
  const pools = new Map<string, Pool>();
  /**
   * Pools with a look pending: at most one each. Every failed connection of a pool with requests
   * queued asks again, and a timer per ask piled up timers without bound while an upstream kept
   * failing (an attacker's review: 160k timers and +270 MiB in 30 s).
   */
  const rechecking = new Set<Pool>();
  /** Timers actually pending: what `rechecking` reports, so a test sees a broken guard (the Set alone cannot). */
  let timersPending = 0;
  let closed = false;
  /** HTTP/2 pools: given a request since the last sweep; seen without requests at the last sweep. */
  const h2State = new Map<Pool, { used: boolean; idleSeen: boolean }>();
  let sweeper: NodeJS.Timeout | undefined;
  const idleMs = options.keepAliveTimeout ?? 4_000;
  const h2 = options.allowH2 === true;

  /** Closes each HTTP/2 pool found idle at this sweep and the one before, with no request between. */
  const sweepH2 = (): void => {
    for (const [origin, pool] of pools) {
      const state = h2State.get(pool);
      if (state === undefined) continue;
      const idle = pool.stats.size === 0 && !state.used;
      if (idle && state.idleSeen) {
        pools.delete(origin);
        h2State.delete(pool);
        pool.close().catch(() => undefined);
        continue;
      }
      state.idleSeen = idle;
      state.used = false;
    }
  };

  /** Closes `pool` if it is still `origin`'s pool and holds nothing; looks again later while requests wait. */
  const retireIfUnused = (origin: string, pool: Pool): void => {
    if (pools.get(origin) !== pool) return;
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
    pools.delete(origin);
    h2State.delete(pool);
    pool.close().catch(() => undefined);
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
      let pool = pools.get(origin);
      if (pool === undefined) {
        const created = factory(origin, options);
        created.on('disconnect', () => retireIfUnused(origin, created));
        created.on('connectionError', () => retireIfUnused(origin, created));
        pools.set(origin, created);
        pool = created;
        if (h2) {
          h2State.set(created, { used: true, idleSeen: false });
          sweeper ??= setInterval(sweepH2, idleMs).unref();
        }
      }
      if (h2) {
        const state = h2State.get(pool);
        if (state !== undefined) state.used = true;
      }
      return pool.dispatch(options_, handler);
    },
    async close() {
      closed = true;
      clearInterval(sweeper);
      const all = [...pools.values()];
      pools.clear();
      h2State.clear();
      await Promise.all(all.map((p) => p.close()));
    },
    get size() {
      return pools.size;
    },
    get rechecking() {
      return timersPending;
    },
  };
}
