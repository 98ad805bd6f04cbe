// Exec probes and exec lifecycle hooks, run as kubelet runs them: inside the container with
// `docker exec` (so as the container's own user, with its capabilities and environment), each
// attempt bounded by timeoutSeconds, every periodSeconds, and judged by failureThreshold and
// successThreshold with kubelet's defaults.
import { run } from '../helpers/process.ts';
import type { ExecAction, Probe } from './pod-spec.ts';

export interface ProbeTiming {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

/** kubelet's defaults: period 10 s, timeout 1 s, success 1, failure 3, no initial delay. */
export function probeTiming(p: Probe): ProbeTiming {
  return {
    initialDelayMs: (p.initialDelaySeconds ?? 0) * 1000,
    periodMs: (p.periodSeconds ?? 10) * 1000,
    timeoutMs: (p.timeoutSeconds ?? 1) * 1000,
    successThreshold: p.successThreshold ?? 1,
    failureThreshold: p.failureThreshold ?? 3,
  };
}

export interface ExecResult {
  ok: boolean;
  code: number | null;
  output: string;
}

/** One exec in the container; a timeout counts as a failure, as it does for kubelet. */
export async function execIn(docker: string, container: string, action: ExecAction, timeoutMs: number): Promise<ExecResult> {
  const started = Date.now();
  const result = await run(docker, ['exec', container, ...action.command], { timeoutMs });
  const timedOut = result.code === null || Date.now() - started >= timeoutMs;
  return { ok: result.code === 0 && !timedOut, code: result.code, output: `${result.stdout}${result.stderr}`.slice(-2000) };
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => {
    clearTimeout(timer);
    resolve();
  }, { once: true });
});

/**
 * Runs a startup probe until it succeeds (resolves) or reaches failureThreshold consecutive
 * failures (throws: kubelet would kill the container). `alive` is asked before every attempt: a
 * container that exited cannot become started.
 */
export async function awaitStartupProbe(docker: string, container: string, probe: Probe, alive: () => Promise<boolean>,
  signal?: AbortSignal): Promise<number> {
  const t = probeTiming(probe);
  await sleep(t.initialDelayMs, signal);
  let failures = 0;
  let successes = 0;
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted === true) throw new Error(`startup probe of ${container} stopped: the pod is terminating`);
    if (!(await alive())) throw new Error(`container ${container} exited before its startup probe succeeded`);
    const result = await execIn(docker, container, probe.exec, t.timeoutMs);
    if (result.ok) {
      failures = 0;
      if (++successes >= t.successThreshold) return attempt;
    } else {
      successes = 0;
      if (++failures >= t.failureThreshold) {
        throw new Error(`startup probe of ${container} failed ${failures} times (last: exit ${result.code}: ${result.output.trim()})`);
      }
    }
    await sleep(t.periodMs, signal);
  }
}

/**
 * A readiness or liveness probe for the container's life: `onChange` hears every transition
 * (ready/not ready, alive/failed past the threshold). Stops when the signal aborts.
 */
export function watchProbe(docker: string, container: string, probe: Probe, signal: AbortSignal, onChange: (ok: boolean, result: ExecResult) => void): Promise<void> {
  const t = probeTiming(probe);
  return (async () => {
    await sleep(t.initialDelayMs, signal);
    let state: boolean | undefined;
    let failures = 0;
    let successes = 0;
    while (!signal.aborted) {
      const result = await execIn(docker, container, probe.exec, t.timeoutMs);
      if (signal.aborted) break;
      if (result.ok) {
        failures = 0;
        if (++successes >= t.successThreshold && state !== true) onChange((state = true), result);
      } else {
        successes = 0;
        if (++failures >= t.failureThreshold && state !== false) onChange((state = false), result);
      }
      await sleep(t.periodMs, signal);
    }
  })();
}
