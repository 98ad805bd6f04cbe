// Event-loop lag, sampled every 10 ms while sluice has work: while a client connection is open,
// and for a while after the last one closed or the last DNS query. Sampling wakes the process
// 100 times a second; an idle sidecar spent ~6.5 ms of CPU a second on it (0.65 % of a core per
// pod, ~0.45 % for each such timer: prom-client's default lag metrics kept a second one), where
// sluice has nothing else to do. With no work there is no lag to see: the gauges read 0.
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Sampling interval (the gauges report the delay beyond it). */
export const LOOP_SAMPLE_MS = 10;

/** How long sampling goes on after the last activity. */
export const LOOP_IDLE_AFTER_MS = 30_000;

export interface LoopActivity {
  /** A client connection opened: sampling runs while any is open. Call the result once it closed. */
  connectionOpened(): () => void;
  /** Work that has no connection (a DNS query): sampling runs for a while after it. */
  touch(): void;
}

export interface LoopLag extends LoopActivity {
  /** Lag beyond the sampling interval since the previous call, seconds; starts a new window. */
  take(): { p99: number; max: number };
  /** Whether the 10 ms sampling runs now. */
  readonly sampling: boolean;
}

export function createLoopLag(idleAfterMs = LOOP_IDLE_AFTER_MS): LoopLag {
  const histogram = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
  let open = 0;
  let lastActive = 0;
  let sampling = false;
  let timer: NodeJS.Timeout | undefined;

  const stopWhenIdle = (): void => {
    timer = undefined;
    if (open > 0) return;
    const left = lastActive + idleAfterMs - performance.now();
    if (left > 0) {
      timer = setTimeout(stopWhenIdle, left);
      timer.unref();
      return;
    }
    histogram.disable();
    sampling = false;
  };

  const active = (): void => {
    lastActive = performance.now();
    if (!sampling) {
      histogram.enable();
      sampling = true;
    }
    if (open === 0 && timer === undefined) {
      timer = setTimeout(stopWhenIdle, idleAfterMs);
      timer.unref();
    }
  };

  const beyondSample = (ns: number): number => Math.max(0, ns / 1e9 - LOOP_SAMPLE_MS / 1000);

  return {
    connectionOpened() {
      open++;
      active();
      let closed = false;
      return () => {
        if (closed) return;
        closed = true;
        open--;
        active();
      };
    },
    touch: active,
    take() {
      const any = histogram.count > 0;
      const out = { p99: any ? beyondSample(histogram.percentile(99)) : 0, max: any ? beyondSample(histogram.max) : 0 };
      histogram.reset();
      return out;
    },
    get sampling() {
      return sampling;
    },
  };
}
