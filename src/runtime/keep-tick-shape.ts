// Keeps one of process.nextTick's queue entries alive for the life of the process, so that V8
// never forgets the hidden classes ("maps") that nextTick's inline caches learnt.
//
// Node builds each nextTick entry as an object literal with computed symbol keys, and V8's caches
// for those property definitions hold the maps they saw weakly. Between start-up and the first
// request no entry is alive, so a full GC in that window (sluice's memory-reducing one at ready,
// or V8's memory reducer once a sidecar idles) frees the maps; the next nextTick finds its caches
// cleared, makes them megamorphic, and they stay so: every nextTick (about nine per proxied
// request) then defines its entry's five properties in V8's runtime. Measured on the bench rig
// under keep-alive load (perf): nextTick took 6.0 % of sluice's CPU, 0.8 % with one entry kept
// (node-floor, which has no such GC before its load: 1.3 %); 76–86 → 67–72 µs per request,
// interleaved against the commit before.
// An entry is small (two ids, a callback, no arguments) and every later entry shares its maps.
import { executionAsyncResource } from 'node:async_hooks';

// Held on `process`, not in a variable of this module: a bundler drops a store to a module
// variable that nothing reads (rolldown did, and the image's sluice lost ~3 % of its keep-alive
// rate), but never a store to a global object's property.
const KEPT = Symbol.for('sluice.keptTickEntry');
const holder = process as unknown as Record<symbol, object | undefined>;
let scheduled = false;

/** Keeps the next nextTick entry (the one this queues) alive for good; call it early in start-up. */
export function keepTickShape(): void {
  if (scheduled) return;
  scheduled = true;
  // While a nextTick callback runs, Node reports its queue entry as the current async resource.
  process.nextTick(() => {
    holder[KEPT] = executionAsyncResource();
  });
}

/** The entry kept (undefined until the tick has run). */
export function keptTickEntry(): object | undefined {
  return holder[KEPT];
}
