// V8's gc() function without a `gc` global: it is taken from a fresh context created while
// --expose-gc is set (v8.setFlagsFromString, the method v8's documentation shows), and the
// flag is unset again at once, so no other code ever sees a gc global. Each call makes a new
// context; a caller that collects often keeps the function (and with it that context).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export type GcOptions =
  | { type: 'minor'; execution: 'sync' }
  | { type: 'major'; execution: 'sync'; flavor?: 'regular' | 'last-resort' };

export type GcFunction = (options: GcOptions) => void;

/** A gc function, or undefined when this runtime offers none. */
export function takeGcFunction(): GcFunction | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
    return typeof gc === 'function' ? (gc as GcFunction) : undefined;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
