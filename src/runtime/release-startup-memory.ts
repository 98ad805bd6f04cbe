// Start-up leaves V8's young generation grown to several MiB (module compilation, the CA, the
// config) that an idle sidecar then keeps, mostly empty: at ready its new space held ~0.2 MiB in
// ~6.5 MiB of committed pages. V8 gives such memory back only from a GC that aims to reduce
// memory, which nothing in an idle process triggers (measured: RSS unchanged after 60 s idle).
// One such collection when start-up is done — V8's "last resort" full GC, ~10 ms — took the
// idle sidecar from ~90 to ~82 MiB RSS (its own, anonymous memory from ~37 to ~29 MiB). Under
// load the young generation grows back as V8 sees fit.
//
// V8 has no public API for it in Node: see gc-function.ts.
import { takeGcFunction } from './gc-function.ts';

/** Runs one memory-reducing full GC now; false when Node offers no way to. */
export function releaseStartupMemory(): boolean {
  const gc = takeGcFunction();
  if (gc === undefined) return false;
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return true;
}
