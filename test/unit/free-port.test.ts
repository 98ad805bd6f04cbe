import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.ts';

describe('freePort (test helper)', () => {
  it('never hands out the same port twice in one process, even right after it was closed', async () => {
    const ports = [];
    for (let i = 0; i < 300; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
  });
});
