// sluice's Node flags and environment are set in three places that cannot share a constant:
// the image (NODE_OPTIONS, ENV), `npm start`, and the bench, which must measure sluice as it is run.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SLUICE_ENV, SLUICE_NODE_FLAGS } from '../../bench/peers/sluice.ts';

const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

describe("sluice's Node flags", () => {
  it('the image, npm start and the bench run sluice with the same ones', () => {
    const flags = SLUICE_NODE_FLAGS.join(' ');
    expect(flags).not.toBe('');
    const env = read('docker/Dockerfile').split('\n').map((line) => line.trim().replace(/ \\$/, '')).find((line) => line.startsWith('NODE_OPTIONS='));
    expect(env, 'docker/Dockerfile sets NODE_OPTIONS').toBe(`NODE_OPTIONS=${flags}`);
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.start).toContain(`node ${flags} bin/sluice.js run`);
  });

  it('the image, npm start and the bench run sluice with the same environment (one malloc arena)', () => {
    expect(SLUICE_ENV).toEqual({ MALLOC_ARENA_MAX: '1' });
    const dockerfile = read('docker/Dockerfile').split('\n').map((line) => line.trim().replace(/ \\$/, ''));
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    for (const [name, value] of Object.entries(SLUICE_ENV)) {
      expect(dockerfile, `docker/Dockerfile sets ${name}`).toContain(`${name}=${value}`);
      expect(scripts.start).toMatch(new RegExp(`^exec env ${name}=${value} node `));
    }
  });
});
