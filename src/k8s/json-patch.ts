// An RFC 6902 JSON Patch that turns one JSON value into another: what the webhook answers, so
// the API server ends up with exactly the object `sluice inject` prints. Objects are diffed key
// by key; a changed array is replaced whole (containers, volumes), which any RFC 6902
// implementation applies the same way and which stays correct under reinvocation.
import { isObject } from './types.ts';

export type PatchOperation =
  | { op: 'add'; path: string; value: unknown }
  | { op: 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string };

/** RFC 6901: "~" → "~0", "/" → "~1" (annotation keys such as sluice.dev/status have a slash). */
export function pointerToken(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

export function createJsonPatch(from: unknown, to: unknown, path = ''): PatchOperation[] {
  if (deepEqual(from, to)) return [];
  if (!isObject(from) || !isObject(to)) return [{ op: 'replace', path, value: to }];
  const ops: PatchOperation[] = [];
  for (const key of Object.keys(from)) {
    if (!Object.hasOwn(to, key)) ops.push({ op: 'remove', path: `${path}/${pointerToken(key)}` });
  }
  for (const [key, value] of Object.entries(to)) {
    const at = `${path}/${pointerToken(key)}`;
    if (!Object.hasOwn(from, key)) ops.push({ op: 'add', path: at, value });
    else ops.push(...createJsonPatch(from[key], value, at));
  }
  return ops;
}
