// The webhook's RFC 6902 patch (src/k8s/json-patch.ts), checked by an independent
// implementation (fast-json-patch): applying it must give the target exactly.
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { createJsonPatch, pointerToken } from '../../src/k8s/json-patch.ts';

const apply = (from: unknown, ops: unknown): unknown =>
  fastJsonPatch.applyPatch(structuredClone(from), ops as fastJsonPatch.Operation[], true, false).newDocument;

describe('createJsonPatch', () => {
  const cases: Array<[string, unknown, unknown]> = [
    ['a new annotation beside existing ones (a key with "/")', { metadata: { annotations: { a: '1' } } }, { metadata: { annotations: { a: '1', 'sluice.dev/status': 'injected' } } }],
    ['a key with "~" and "/"', { a: { 'x~/y': 1 } }, { a: { 'x~/y': 2, 'n~0': 3 } }],
    ['a removed key', { a: 1, b: { c: 2 } }, { a: 1 }],
    ['an array replaced whole', { spec: { containers: [{ name: 'a' }] } }, { spec: { containers: [{ name: 'a', env: [] }, { name: 'b' }] } }],
    ['types that change', { a: [1], b: 'x', c: null }, { a: { x: 1 }, b: 2, c: [null] }],
    ['nothing to do', { a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }],
  ];
  for (const [name, from, to] of cases) {
    it(name, () => {
      const ops = createJsonPatch(from, to);
      expect(apply(from, ops)).toEqual(to);
    });
  }

  it('is empty when nothing changes, and escapes pointer tokens per RFC 6901', () => {
    expect(createJsonPatch({ a: 1 }, { a: 1 })).toEqual([]);
    expect(pointerToken('sluice.dev/status')).toBe('sluice.dev~1status');
    expect(pointerToken('a~/b')).toBe('a~0~1b');
    expect(createJsonPatch({ m: {} }, { m: { 'sluice.dev/status': 'injected' } })).toEqual([{ op: 'add', path: '/m/sluice.dev~1status', value: 'injected' }]);
  });
});
