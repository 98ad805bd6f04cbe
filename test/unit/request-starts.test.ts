// Request starts in slices: a burst of requests parsed in one turn starts at most SLICE_MS worth
// of them there, the rest in later turns, in arrival order, with timers and I/O in between.
import { describe, expect, it } from 'vitest';
import { SLICE_MS, startRequest, waitingStarts } from '../../src/capture/request-starts.ts';

/** Busy for `ms` (what a request's steps cost the event loop). */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

/** Resolves once no start is waiting (polled on timers, so turns pass meanwhile). */
async function drained(): Promise<void> {
  while (waitingStarts() > 0) await new Promise((resolve) => setTimeout(resolve, 1));
}

const fail = (err: unknown): void => {
  throw err;
};

describe('request starts', () => {
  it('starts a request at once when the turn is not busy', async () => {
    await drained();
    await new Promise((resolve) => setImmediate(resolve));
    let ran = false;
    startRequest(() => {
      ran = true;
    }, fail);
    expect(ran).toBe(true);
  });

  it('starts a burst within SLICE_MS per turn, in arrival order, with timers running between slices', async () => {
    await drained();
    await new Promise((resolve) => setImmediate(resolve));
    const order: string[] = [];
    const burst = 12;
    for (let i = 0; i < burst; i++) {
      startRequest(() => {
        order.push(`start ${i}`);
        spin(1);
      }, fail);
    }
    const startedInTheSameTurn = order.length;
    // What another socket or a timer would do in the meantime.
    setTimeout(() => order.push('timer'), 0);
    await drained();
    expect(order.filter((o) => o.startsWith('start'))).toEqual(Array.from({ length: burst }, (_, i) => `start ${i}`));
    // 1 ms each: the slice ends after the start that crosses SLICE_MS.
    expect(startedInTheSameTurn).toBeGreaterThanOrEqual(1);
    expect(startedInTheSameTurn).toBeLessThanOrEqual(SLICE_MS + 1);
    const timerAt = order.indexOf('timer');
    expect(timerAt).toBeGreaterThan(startedInTheSameTurn);
    expect(timerAt).toBeLessThan(order.length - 1);
  });

  it('queues a new request behind the waiting ones, and reports a start that throws without losing the rest', async () => {
    await drained();
    await new Promise((resolve) => setImmediate(resolve));
    const order: number[] = [];
    const errors: unknown[] = [];
    for (let i = 0; i < 6; i++) {
      startRequest(() => {
        order.push(i);
        spin(1);
        if (i === 3) throw new Error('boom');
      }, (err) => errors.push(err));
    }
    expect(waitingStarts()).toBeGreaterThan(0);
    // Arrives while others wait: after them, however idle its own turn.
    await new Promise((resolve) => setTimeout(resolve, 0));
    startRequest(() => order.push(6), fail);
    await drained();
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('boom');
  });
});
