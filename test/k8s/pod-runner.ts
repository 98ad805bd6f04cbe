// Runs a Pod under the Docker engine the way kubelet would run it on a node, from the pod spec
// itself (DESIGN §7, issue 12):
//   1. the spec is checked first: any field the runner does not implement is refused by name
//      (pod-spec.ts), before anything is created;
//   2. a pause container owns the pod's network and IPC namespaces (and its hostname, sysctls);
//   3. init containers run in order, each with its own user, capabilities and mounts; a plain
//      one must exit 0 before the next starts (else the pod fails and nothing after it runs);
//      one with `restartPolicy: Always` is a native sidecar: started, its postStart hook awaited,
//      then its startupProbe, and only then does the next container start;
//   4. the app containers start in order, each postStart hook blocking the next (the mechanism
//      Istio's holdApplicationUntilProxyStarts and `sluice inject --sidecar=container` rely on);
//   5. readiness and liveness probes run for the pod's life (a failed liveness or app startup
//      probe kills the container, restarted per restartPolicy); `waitForCompletion` ends a
//      Job-style pod when its app containers have exited, then stops the sidecars in reverse
//      order (preStop hook, SIGTERM, grace period), as kubelet does;
//   6. `delete` stops and removes every container, the pause container and the volumes; a
//      container left behind is an error.
// What the runner does not do: pull images (they must exist locally; `images` maps names),
// retry a failed init container (kubelet would, with back-off, unless restartPolicy is Never;
// either way the app never starts: the runner reports phase Failed), restart back-off timing
// (Docker's own), service account tokens; fields it cannot honour are refused by pod-spec.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { run, type RunResult } from '../helpers/process.ts';
import { dockerRunArgs } from './pod-container.ts';
import { awaitStartupProbe, execIn, watchProbe } from './pod-probes.ts';
import { checkPod, type Container, type Pod } from './pod-spec.ts';
import { prepareVolumes, unmountVolumes, updateVolumes, type PodObjects, type PreparedVolume } from './pod-volumes.ts';
import { POD_DIR_PREFIX, POD_LABEL, docker, leftovers, mustDocker } from './pod-docker.ts';
import { resolvConf } from './pod-dns.ts';

export type { PodObjects } from './pod-volumes.ts';
export { NotImplementedError } from './pod-spec.ts';
export { POD_LABEL, leftovers, removeLeftovers } from './pod-docker.ts';

export interface RunPodOptions {
  /** ConfigMaps and Secrets the pod refers to, by name. */
  objects: PodObjects;
  /** The Docker network the pod's sandbox joins (the "node's pod network"). */
  network: string;
  /** The cluster DNS server written into resolv.conf for dnsPolicy ClusterFirst. */
  clusterDns: string;
  /** The image of the pause container (any image with `sleep`). */
  pauseImage: string;
  /** Image references of the spec → local images (a stand-in for the registry). */
  images?: Record<string, string>;
  /** Bound on each plain init container, and on each postStart hook. Default 120 s. */
  stepTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface PodEvent {
  at: number;
  container: string;
  event: 'sandbox' | 'created' | 'started' | 'post-start' | 'startup-probe' | 'exited' | 'ready' | 'not-ready' | 'liveness-failed' | 'stopped' | 'failed';
  detail?: string;
}

export type PodPhase = 'Running' | 'Succeeded' | 'Failed';

export interface PodFailure {
  container: string;
  reason: string;
  exitCode?: number;
  logs: string;
}

export interface ContainerStatus {
  name: string;
  exitCode: number;
  restartCount: number;
}

export interface RunningPod {
  readonly pod: Pod;
  readonly id: string;
  readonly podIp: string;
  readonly pauseId: string;
  /** Running once every container started; Failed when a step failed (nothing after it ran). */
  phase: PodPhase;
  failure?: PodFailure;
  readonly events: PodEvent[];
  /** The Docker container of a pod container (throws for one that was never created). */
  containerId(name: string): string;
  /** Whether a container was created at all. */
  created(name: string): boolean;
  exec(name: string, command: string[], options?: { user?: string; timeoutMs?: number; input?: string }): Promise<RunResult>;
  logs(name: string): Promise<string>;
  /** The events as "+1.234s container event detail" lines, from the sandbox's creation. */
  timeline(): string;
  /** The readiness probe's latest verdict (undefined: no probe, or no verdict yet). */
  ready(name: string): boolean | undefined;
  /** Applies a changed ConfigMap or Secret to its volumes with kubelet's atomic swap. */
  updateObject(kind: 'configMap' | 'secret', name: string, data: Record<string, string>): number;
  /** Job-style pods: waits for the app containers to exit, then stops the sidecars. */
  waitForCompletion(timeoutMs: number): Promise<{ phase: PodPhase; containers: ContainerStatus[] }>;
  /** Stops and removes everything the pod made; throws if anything is left behind. */
  delete(options?: { graceSeconds?: number }): Promise<void>;
}

/** Starts the pod; resolves when every container is started (phase Running) or a step failed (phase Failed). */
export async function runPod(podObject: unknown, options: RunPodOptions): Promise<RunningPod> {
  const pod = checkPod(podObject);
  const spec = pod.spec;
  const dockerBin = await docker();
  const inits = spec.initContainers ?? [];
  const log = options.log ?? (() => {});
  const stepTimeoutMs = options.stepTimeoutMs ?? 120_000;
  const imageOf = (c: Container): string => options.images?.[c.image] ?? c.image;
  const imageUsers = new Map<string, string>();
  for (const c of [...inits, ...spec.containers]) {
    const image = imageOf(c);
    if (!imageUsers.has(image)) {
      // No registry: an image that is not here is ErrImageNeverPull.
      imageUsers.set(image, await mustDocker(['image', 'inspect', '-f', '{{.Config.User}}', image]).catch(() => {
        throw new Error(`image ${image} (for ${c.name}) is not present locally (ErrImageNeverPull)`);
      }));
    }
  }

  const id = `${pod.metadata.name.slice(0, 20)}-${randomBytes(4).toString('hex')}`;
  const labels = { [POD_LABEL]: id };
  const dir = mkdtempSync(join(tmpdir(), POD_DIR_PREFIX));
  const events: PodEvent[] = [];
  const startedAt = Date.now();
  const record = (container: string, event: PodEvent['event'], detail?: string): void => {
    events.push({ at: Date.now(), container, event, ...(detail !== undefined ? { detail } : {}) });
    log(`${pod.metadata.name}/${container}: ${event}${detail !== undefined ? ` ${detail}` : ''}`);
  };
  const ids = new Map<string, string>();
  const readiness = new Map<string, boolean>();
  const watchers = new AbortController();
  const background: Promise<void>[] = [];
  const fsGroup = spec.securityContext?.fsGroup;
  const grace = spec.terminationGracePeriodSeconds ?? 30;
  let volumes = new Map<string, PreparedVolume>();
  let pauseId = '';
  let podIp = '';
  let deleted = false;

  const containerId = (name: string): string => {
    const cid = ids.get(name);
    if (cid === undefined) throw new Error(`container ${name} was never created in pod ${pod.metadata.name}`);
    return cid;
  };
  const state = async (cid: string): Promise<{ status: string; exitCode: number; restarts: number }> => {
    const [status = '', exitCode = '0', restarts = '0'] = (await mustDocker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}', cid])).split(' ');
    return { status, exitCode: Number(exitCode), restarts: Number(restarts) };
  };
  const logsOf = async (name: string): Promise<string> => {
    const cid = ids.get(name);
    if (cid === undefined) return '';
    const result = await run(dockerBin, ['logs', cid], { timeoutMs: 30_000 });
    return result.stdout + result.stderr;
  };

  const removeAll = async (): Promise<void> => {
    watchers.abort();
    await Promise.allSettled(background);
    const errors: string[] = [];
    const all = await leftovers(id).catch((err: Error) => {
      errors.push(err.message);
      return [];
    });
    if (all.length > 0) await mustDocker(['rm', '-f', '-v', ...all], { timeoutMs: 120_000 }).catch((err: Error) => errors.push(err.message));
    errors.push(...unmountVolumes(dir));
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch (err) {
      errors.push((err as Error).message);
    }
    const left = await leftovers(id).catch(() => ['(cannot list)']);
    if (left.length > 0) errors.push(`containers left behind: ${left.join(' ')}`);
    if (errors.length > 0) throw new Error(`pod ${id} cleanup: ${errors.join('; ')}`);
  };

  const self: RunningPod = {
    pod, id, get podIp() { return podIp; }, get pauseId() { return pauseId; },
    phase: 'Running', events,
    containerId,
    created: (name) => ids.has(name),
    async exec(name, command, opts = {}) {
      const args = ['exec', ...(opts.input !== undefined ? ['-i'] : []), ...(opts.user !== undefined ? ['-u', opts.user] : []), containerId(name), ...command];
      return run(dockerBin, args, { timeoutMs: opts.timeoutMs ?? 30_000, ...(opts.input !== undefined ? { input: opts.input } : {}) });
    },
    logs: logsOf,
    ready: (name) => readiness.get(name),
    timeline: () => events.map((e) => `+${((e.at - startedAt) / 1000).toFixed(3)}s ${e.container} ${e.event}${e.detail !== undefined ? ` ${e.detail}` : ''}`).join('\n'),
    updateObject: (kind, name, data) => updateVolumes(volumes, kind, name, data, fsGroup),
    async waitForCompletion(timeoutMs) {
      const policy = spec.restartPolicy ?? 'Always';
      if (policy === 'Always') throw new Error('a pod with restartPolicy Always never completes');
      const deadline = Date.now() + timeoutMs;
      let statuses: ContainerStatus[] = [];
      for (;;) {
        statuses = [];
        let done = true;
        for (const c of spec.containers) {
          const s = await state(containerId(c.name));
          statuses.push({ name: c.name, exitCode: s.exitCode, restartCount: s.restarts });
          // OnFailure: Docker restarts a failed container, so only a clean exit is final.
          if (s.status !== 'exited' || (policy === 'OnFailure' && s.exitCode !== 0)) done = false;
        }
        if (done) break;
        if (Date.now() > deadline) throw new Error(`pod ${pod.metadata.name} did not complete within ${timeoutMs / 1000} s: ${JSON.stringify(statuses)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      for (const s of statuses) record(s.name, 'exited', `code ${s.exitCode}`);
      // kubelet then terminates the sidecars, last started first.
      watchers.abort();
      for (const c of [...inits].reverse().filter((i) => i.restartPolicy === 'Always')) await stop(c, grace);
      self.phase = statuses.every((s) => s.exitCode === 0) ? 'Succeeded' : 'Failed';
      return { phase: self.phase, containers: statuses };
    },
    async delete(opts = {}) {
      if (deleted) return;
      deleted = true;
      const seconds = opts.graceSeconds ?? grace;
      watchers.abort();
      try {
        // Apps together, then the sidecars in reverse order, as kubelet terminates a pod.
        await Promise.all(spec.containers.filter((c) => ids.has(c.name)).map((c) => stop(c, seconds)));
        for (const c of [...inits].reverse().filter((i) => i.restartPolicy === 'Always' && ids.has(i.name))) await stop(c, seconds);
      } finally {
        await removeAll();
      }
    },
  };

  async function stop(c: Container, seconds: number): Promise<void> {
    const cid = containerId(c.name);
    if ((await state(cid)).status !== 'running') return;
    const preStop = c.lifecycle?.preStop;
    if (preStop !== undefined) await execIn(dockerBin, cid, preStop.exec, seconds * 1000);
    await mustDocker(['stop', '-t', String(seconds), cid], { timeoutMs: seconds * 1000 + 30_000 });
    const s = await state(cid);
    record(c.name, 'stopped', `code ${s.exitCode}`);
  }

  const fail = async (container: string, reason: string, exitCode?: number): Promise<RunningPod> => {
    watchers.abort();
    self.phase = 'Failed';
    self.failure = { container, reason, ...(exitCode !== undefined ? { exitCode } : {}), logs: await logsOf(container) };
    record(container, 'failed', reason);
    // The pod is over: stop whatever runs (the sandbox stays until delete, like a failed pod object).
    for (const [name, cid] of ids) {
      const c = [...inits, ...spec.containers].find((x) => x.name === name);
      if (c !== undefined && (await state(cid)).status === 'running') await stop(c, 2);
    }
    return self;
  };

  async function create(c: Container, restart: 'no' | 'always' | 'on-failure'): Promise<string> {
    const image = imageOf(c);
    const { args, env } = dockerRunArgs(c, {
      pod, objects: options.objects, volumes, pause: pauseId, podIp, resolvConf: join(dir, 'resolv.conf'),
      imageUser: imageUsers.get(image) ?? '', image, labels: { ...labels, [`${POD_LABEL}.container`]: c.name },
      name: `${id}-${c.name}`, restart,
    });
    const cid = await mustDocker(args, { env });
    ids.set(c.name, cid);
    record(c.name, 'started');
    return cid;
  }

  const alive = (cid: string) => async (): Promise<boolean> => (await state(cid)).status === 'running';

  function watch(c: Container, cid: string): void {
    if (c.readinessProbe !== undefined) {
      background.push(watchProbe(dockerBin, cid, c.readinessProbe, watchers.signal, (ok) => {
        readiness.set(c.name, ok);
        record(c.name, ok ? 'ready' : 'not-ready');
      }));
    }
    if (c.livenessProbe !== undefined) {
      background.push(watchProbe(dockerBin, cid, c.livenessProbe, watchers.signal, (ok, result) => {
        if (ok) return;
        record(c.name, 'liveness-failed', result.output.trim());
        kill(c, cid);
      }));
    }
  }

  /** A failed liveness or startup probe: kubelet kills the container, then restarts it per restartPolicy. */
  function kill(c: Container, cid: string): void {
    const restarts = c.restartPolicy === 'Always' || (spec.restartPolicy ?? 'Always') !== 'Never';
    void run(dockerBin, restarts ? ['restart', '-t', String(grace), cid] : ['stop', '-t', String(grace), cid], { timeoutMs: grace * 1000 + 30_000 });
  }

  /** postStart: the next container is not started until it returns; a failure kills the container. */
  async function postStart(c: Container, cid: string): Promise<boolean> {
    const hook = c.lifecycle?.postStart;
    if (hook === undefined) return true;
    const result = await execIn(dockerBin, cid, hook.exec, stepTimeoutMs);
    record(c.name, 'post-start', result.ok ? 'ok' : `failed: exit ${result.code} ${result.output.trim()}`);
    return result.ok;
  }

  try {
    volumes = prepareVolumes(spec.volumes ?? [], options.objects, dir, fsGroup);
    writeFileSync(join(dir, 'resolv.conf'), resolvConf(pod, options.clusterDns), { mode: 0o644 });
    const pauseArgs = ['run', '-d', '--name', `${id}-pause`, '--label', `${POD_LABEL}=${id}`, '--network', options.network,
      '--hostname', spec.hostname ?? pod.metadata.name, '--ipc', 'shareable', '--no-healthcheck',
      ...(spec.securityContext?.sysctls ?? []).flatMap((s) => ['--sysctl', `${s.name}=${s.value}`]),
      '--entrypoint', 'sleep', options.pauseImage, 'infinity'];
    pauseId = await mustDocker(pauseArgs);
    podIp = await mustDocker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${options.network}").IPAddress}}`, pauseId]);
    record('pause', 'sandbox', podIp);

    for (const c of inits) {
      if (c.restartPolicy === 'Always') {
        const cid = await create(c, 'always');
        if (!(await postStart(c, cid))) return await fail(c.name, 'FailedPostStartHook');
        if (c.startupProbe !== undefined) {
          try {
            const attempts = await awaitStartupProbe(dockerBin, cid, c.startupProbe, alive(cid));
            record(c.name, 'startup-probe', `succeeded after ${attempts} attempt(s)`);
          } catch (err) {
            return await fail(c.name, `Unhealthy: ${(err as Error).message}`);
          }
        }
        watch(c, cid);
        continue;
      }
      const cid = await create(c, 'no');
      const waited = await run(dockerBin, ['wait', cid], { timeoutMs: stepTimeoutMs });
      if (waited.code !== 0) return await fail(c.name, `did not finish within ${stepTimeoutMs / 1000} s`);
      const code = Number(waited.stdout.trim());
      record(c.name, 'exited', `code ${code}`);
      if (code !== 0) return await fail(c.name, 'Init:Error', code);
    }

    const restart = ({ Always: 'always', OnFailure: 'on-failure', Never: 'no' } as const)[spec.restartPolicy ?? 'Always'];
    for (const c of spec.containers) {
      const cid = await create(c, restart);
      if (!(await postStart(c, cid))) return await fail(c.name, 'FailedPostStartHook');
      if (c.startupProbe !== undefined) {
        const probe = c.startupProbe;
        // An app container's startup probe gates only its own readiness and liveness.
        background.push(awaitStartupProbe(dockerBin, cid, probe, alive(cid), watchers.signal).then(
          (n) => {
            record(c.name, 'startup-probe', `succeeded after ${n} attempt(s)`);
            if (!watchers.signal.aborted) watch(c, cid);
          },
          (err: Error) => {
            if (watchers.signal.aborted) return;
            record(c.name, 'startup-probe', `failed: ${err.message}`);
            kill(c, cid);
          },
        ));
      } else {
        watch(c, cid);
      }
    }
    return self;
  } catch (err) {
    await removeAll().catch((cleanup: Error) => log(cleanup.message));
    throw err;
  }
}
