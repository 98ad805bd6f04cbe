// Frees relayed body buffers while they are young. Every chunk of a body sluice relays is a
// fresh ArrayBuffer (TLS decrypts each record into a new buffer) that is garbage once written
// on, but V8 only collects such off-heap memory when it passes its external-memory limit, tens
// of MiB above the last collection: a 100 MiB download grew sluice's RSS by 37–81 MiB although
// back-pressure holds only a few 16 KiB chunks in flight. A minor GC (a scavenge, ~0.5–1 ms
// with a small young generation) after every 2 MiB relayed frees them first. Measured with
// bench/transfer-memory.ts; the figures are in the README's Benchmarks section.
import { takeGcFunction, type GcFunction } from '../runtime/gc-function.ts';

/** Bytes relayed (both directions, all connections) between two minor collections. */
export const RELAY_GC_BYTES = 2 * 1024 * 1024;

/** Taken on first use and kept (undefined: not yet; null: this runtime has none). */
let collect: GcFunction | null | undefined;
let sinceLast = 0;

/** Counts `bytes` of body just relayed; collects the young generation once enough have passed. */
export function noteRelayed(bytes: number): void {
  sinceLast += bytes;
  if (sinceLast < RELAY_GC_BYTES) return;
  sinceLast = 0;
  if (collect === undefined) collect = takeGcFunction() ?? null; // without it, V8's own limits apply
  collect?.({ type: 'minor', execution: 'sync' });
}
