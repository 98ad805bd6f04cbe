// The pod runner's translation of a pod spec, without Docker: what it refuses by name, the
// `docker run` arguments it derives (users, capabilities, mounts, environment, command), and
// kubelet's volume layout. Runs anywhere; the pod-run suite runs the result for real.
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURES, inject, parseManifests, podOf } from './manifests.ts';
import { containerEnv, dockerRunArgs, expand, type ContainerContext } from './pod-container.ts';
import { checkPod, NotImplementedError, quantityBytes, type Pod } from './pod-spec.ts';
import { prepareVolumes, updateVolumes, type PodObjects } from './pod-volumes.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-pod-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fixture = (name: string): Record<string, unknown> => podOf(parseManifests(readFileSync(join(FIXTURES, name), 'utf8'))[0]!);

function minimalPod(patch: (pod: Record<string, any>) => void = () => {}): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const pod = {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' },
    spec: { containers: [{ name: 'app', image: 'tools:1', command: ['sleep', '1'] }], volumes: [] as unknown[] },
  };
  patch(pod);
  return pod;
}

function refusal(pod: unknown): string {
  try {
    checkPod(pod);
  } catch (err) {
    if (err instanceof NotImplementedError) return err.field;
    throw err;
  }
  throw new Error('accepted');
}

describe('pod spec: what the runner implements', () => {
  it('accepts the injected fixtures, and whatever `sluice inject` prints (both sidecar modes)', async () => {
    for (const name of ['pod-agent-injected.yaml', 'pod-job-injected.yaml', 'pod-agent.yaml', 'pod-job.yaml']) {
      expect(() => checkPod(fixture(name)), name).not.toThrow();
    }
    for (const sidecar of ['native', 'container'] as const) {
      for (const file of ['pod-agent.yaml', 'pod-job.yaml']) {
        const injected = await inject(join(FIXTURES, file), 'sluice:test', sidecar);
        if (injected === undefined) continue; // no CLI, hand-written native only
        expect(() => checkPod(podOf(injected.documents[0]!)), `${file} ${sidecar} (${injected.source})`).not.toThrow();
      }
    }
  });

  it('refuses, by name, every field it does not implement', () => {
    const cases: [string, (p: Record<string, any>) => void][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
      ['pod.spec.hostNetwork', (p) => (p.spec.hostNetwork = true)],
      ['pod.spec.hostPID', (p) => (p.spec.hostPID = true)],
      ['pod.spec.volumes[0].hostPath', (p) => p.spec.volumes.push({ name: 'h', hostPath: { path: '/' } })],
      ['pod.spec.volumes[0].projected', (p) => p.spec.volumes.push({ name: 'h', projected: { sources: [] } })],
      ['pod.spec.volumes[0].persistentVolumeClaim', (p) => p.spec.volumes.push({ name: 'h', persistentVolumeClaim: { claimName: 'c' } })],
      ['pod.spec.volumes[0].emptyDir.sizeLimit', (p) => p.spec.volumes.push({ name: 'h', emptyDir: { sizeLimit: '1Gi' } })],
      ['pod.spec.containers[0].readinessProbe.httpGet', (p) => (p.spec.containers[0].readinessProbe = { httpGet: { port: 80 } })],
      ['pod.spec.containers[0].livenessProbe.tcpSocket', (p) => (p.spec.containers[0].livenessProbe = { tcpSocket: { port: 80 } })],
      ['pod.spec.containers[0].startupProbe.grpc', (p) => (p.spec.containers[0].startupProbe = { grpc: { port: 80 } })],
      ['pod.spec.containers[0].lifecycle.preStop.httpGet', (p) => (p.spec.containers[0].lifecycle = { preStop: { httpGet: { port: 80 } } })],
      ['pod.spec.containers[0].lifecycle.postStart.sleep', (p) => (p.spec.containers[0].lifecycle = { postStart: { sleep: { seconds: 1 } } })],
      ['pod.spec.containers[0].imagePullPolicy', (p) => (p.spec.containers[0].imagePullPolicy = 'Always')],
      ['pod.spec.containers[0].imagePullPolicy', (p) => (p.spec.containers[0].image = 'tools:latest')],
      ['pod.spec.containers[0].imagePullPolicy', (p) => (p.spec.containers[0].image = 'registry.local:5000/tools')],
      ['pod.spec.containers[0].resources.limits', (p) => (p.spec.containers[0].resources = { limits: { memory: '1Gi' } })],
      ['pod.spec.containers[0].env[0].valueFrom.fieldRef.fieldPath', (p) => (p.spec.containers[0].env = [{ name: 'N', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }])],
      ['pod.spec.containers[0].env[0].valueFrom.resourceFieldRef', (p) => (p.spec.containers[0].env = [{ name: 'N', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } }])],
      ['pod.spec.containers[0].securityContext.seccompProfile.type', (p) => (p.spec.containers[0].securityContext = { seccompProfile: { type: 'Localhost' } })],
      ['pod.spec.containers[0].securityContext.seLinuxOptions', (p) => (p.spec.containers[0].securityContext = { seLinuxOptions: {} })],
      ['pod.spec.containers[0].securityContext.procMount', (p) => (p.spec.containers[0].securityContext = { procMount: 'Unmasked' })],
      ['pod.spec.containers[0].stdin', (p) => (p.spec.containers[0].stdin = true)],
      ['pod.spec.containers[0].restartPolicy', (p) => (p.spec.containers[0].restartPolicy = 'Always')],
      ['pod.spec.initContainers[0].restartPolicy', (p) => (p.spec.initContainers = [{ name: 'i', image: 'tools:1', restartPolicy: 'OnFailure' }])],
      ['pod.spec.containers[0].volumeMounts[0].subPathExpr', (p) => {
        p.spec.volumes.push({ name: 'v', emptyDir: {} });
        p.spec.containers[0].volumeMounts = [{ name: 'v', mountPath: '/v', subPathExpr: '$(POD)' }];
      }],
      ['pod.spec.containers[0].volumeMounts[0].mountPropagation', (p) => {
        p.spec.volumes.push({ name: 'v', emptyDir: {} });
        p.spec.containers[0].volumeMounts = [{ name: 'v', mountPath: '/v', mountPropagation: 'Bidirectional' }];
      }],
      ['pod.spec.automountServiceAccountToken', (p) => (p.spec.automountServiceAccountToken = true)],
      ['pod.spec.dnsPolicy', (p) => (p.spec.dnsPolicy = 'Default')],
      ['pod.spec.ephemeralContainers', (p) => (p.spec.ephemeralContainers = [])],
      ['pod.metadata.annotations["container.apparmor.security.beta.kubernetes.io/app"]', (p) => (p.metadata.annotations = { 'container.apparmor.security.beta.kubernetes.io/app': 'unconfined' })],
    ];
    for (const [field, patch] of cases) expect(refusal(minimalPod(patch)), field).toBe(field);
    // And the message says so, for a reader of a failed test.
    expect(() => checkPod(minimalPod((p) => (p.spec.hostNetwork = true)))).toThrow('not implemented: pod.spec.hostNetwork');
  });

  it('accepts scheduling-only fields and refuses structural mistakes plainly', () => {
    expect(() => checkPod(minimalPod((p) => Object.assign(p.spec, { nodeSelector: { a: 'b' }, tolerations: [], serviceAccountName: 'x' })))).not.toThrow();
    expect(() => checkPod(minimalPod((p) => (p.spec.containers[0].volumeMounts = [{ name: 'nope', mountPath: '/x' }])))).toThrow(/does not define/);
    expect(() => checkPod(minimalPod((p) => p.spec.containers.push({ name: 'app', image: 'tools:1' })))).toThrow(/two containers/);
    expect(() => checkPod(minimalPod((p) => p.spec.volumes.push({ name: 'v', emptyDir: {}, configMap: { name: 'c' } })))).toThrow(/exactly one volume type/);
  });

  it('reads manifests as Kubernetes does (YAML 1.1: 0644 is octal; Lists flattened)', () => {
    const [pod, item] = parseManifests('kind: Pod\nspec: {volumes: [{secret: {defaultMode: 0644}}]}\n---\nkind: List\nitems: [{kind: ConfigMap}]\n');
    expect(pod).toEqual({ kind: 'Pod', spec: { volumes: [{ secret: { defaultMode: 0o644 } }] } });
    expect(item).toEqual({ kind: 'ConfigMap' });
  });

  it('reads quantities as kubelet does', () => {
    expect(quantityBytes('1Mi')).toBe(1_048_576);
    expect(quantityBytes('64M')).toBe(64_000_000);
    expect(quantityBytes('1536')).toBe(1536);
    expect(() => quantityBytes('1.5Zi')).toThrow(NotImplementedError);
  });
});

describe('pod spec → docker run', () => {
  const objects: PodObjects = {
    configMaps: { cfg: { 'a.toml': 'x = 1\n', greeting: 'hi' } },
    secrets: { sec: { token: 'REAL-TOKEN', 'ca.key': 'KEY' } },
  };
  const context = (pod: Pod, name: string, imageUser = '', with_: PodObjects = objects): ContainerContext => ({
    pod, objects: with_, volumes: prepareVolumes(pod.spec.volumes ?? [], with_, mkdtempSync(join(dir, 'pod-')), undefined),
    pause: 'PAUSE', podIp: '198.19.110.2', resolvConf: '/tmp/resolv.conf', imageUser, image: 'img', labels: { l: 'v' },
    name, restart: 'no',
  });
  const pair = (args: string[], flag: string): string[] => args.flatMap((a, i) => (a === flag ? [args[i + 1] as string] : []));

  it('maps sluice-init and the sluice sidecar of the injected pod to users, capabilities, a read-only root and read-only mounts', () => {
    const pod = checkPod(fixture('pod-agent-injected.yaml'));
    const [init, sidecar] = pod.spec.initContainers!;
    const objectsForPod: PodObjects = {
      configMaps: { 'sluice-config': { 'sluice.toml': '' }, 'sluice-trust': { 'ca.crt': '' } },
      secrets: { 'sluice-ca': { 'ca.key': 'K', 'ca.crt': 'C' }, 'sluice-secrets': { anthropic: 'R' } },
    };
    const ctx = (name: string): ContainerContext => context(pod, name, '', objectsForPod);
    const i = dockerRunArgs(init!, ctx('init')).args;
    expect(pair(i, '--user')).toEqual(['0:0']);
    expect(pair(i, '--cap-drop')).toEqual(['ALL']);
    expect(pair(i, '--cap-add')).toEqual(['NET_ADMIN', 'NET_RAW']);
    expect(i).toContain('--read-only');
    expect(pair(i, '--security-opt')).toContain('no-new-privileges');
    expect(pair(i, '--network')).toEqual(['container:PAUSE']);
    expect(pair(i, '--ipc')).toEqual(['container:PAUSE']);
    expect(i.slice(-4)).toEqual(['--entrypoint', '/app/iptables/sluice-init.sh', 'img', 'apply']);

    const s = dockerRunArgs(sidecar!, ctx('sidecar')).args;
    expect(pair(s, '--user')).toEqual(['1337:1337']);
    expect(pair(s, '--cap-add')).toEqual([]);
    const mounts = pair(s, '--mount');
    expect(mounts.find((m) => m.includes('target=/sluice/ca'))).toMatch(/,readonly$/); // a Secret volume is always read-only
    expect(mounts.find((m) => m.includes('target=/sluice/logs'))).not.toMatch(/readonly/);
    expect(mounts[0]).toBe('type=bind,source=/tmp/resolv.conf,target=/etc/resolv.conf,readonly');
  });

  it('builds the environment in kubelet\'s order, with $(VAR) expansion, and keeps every value off the command line', () => {
    const pod = checkPod(minimalPod((p) => {
      p.spec.containers[0].envFrom = [{ configMapRef: { name: 'cfg' }, prefix: 'CFG_' }];
      p.spec.containers[0].env = [
        { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'sec', key: 'token' } } },
        { name: 'GREETING', value: '$(CFG_greeting) $(POD), $$(LITERAL) $(UNDEFINED)' },
        { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'OPT', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'missing', optional: true } } },
      ];
      p.spec.containers[0].command = ['sh', '-c', 'echo $(TOKEN)'];
      p.spec.containers[0].args = ['$(IP)'];
    }));
    const run = dockerRunArgs(pod.spec.containers[0]!, context(pod, 'app'));
    // POD is defined after GREETING, so it stays unexpanded there, as in kubelet.
    expect(run.env).toEqual({ CFG_greeting: 'hi', 'CFG_a.toml': 'x = 1\n', TOKEN: 'REAL-TOKEN', GREETING: 'hi $(POD), $(LITERAL) $(UNDEFINED)', POD: 'p', IP: '198.19.110.2' });
    expect(pair(run.args, '-e').sort()).toEqual(Object.keys(run.env).sort());
    expect(run.args.slice(-4)).toEqual(['img', '-c', 'echo REAL-TOKEN', '198.19.110.2']); // command/args are expanded (kubelet does it too)
    expect(run.args.filter((a) => a.includes('hi $(POD)'))).toEqual([]);

    const missing = checkPod(minimalPod((p) => (p.spec.containers[0].env = [{ name: 'X', valueFrom: { secretKeyRef: { name: 'sec', key: 'nope' } } }])));
    expect(() => containerEnv(missing.spec.containers[0]!, { pod: missing, objects, podIp: '' })).toThrow(/CreateContainerConfigError/);
  });

  it('refuses runAsNonRoot for a container that would run as root, as kubelet does', () => {
    const pod = checkPod(minimalPod((p) => (p.spec.securityContext = { runAsNonRoot: true })));
    expect(() => dockerRunArgs(pod.spec.containers[0]!, context(pod, 'a', ''))).toThrow(/runAsNonRoot and image will run as root/);
    expect(() => dockerRunArgs(pod.spec.containers[0]!, context(pod, 'a', 'node'))).toThrow(/non-numeric user/);
    expect(dockerRunArgs(pod.spec.containers[0]!, context(pod, 'a', '1000:1000')).uid).toBe(1000);
  });

  it('keeps only args as the image entrypoint\'s arguments, and seccomp as Kubernetes defaults it', () => {
    const pod = checkPod(minimalPod((p) => {
      delete p.spec.containers[0].command;
      p.spec.containers[0].args = ['run'];
    }));
    const args = dockerRunArgs(pod.spec.containers[0]!, context(pod, 'a')).args;
    expect(args).not.toContain('--entrypoint');
    expect(args.slice(-2)).toEqual(['img', 'run']);
    expect(pair(args, '--security-opt')).toEqual(['seccomp=unconfined']);
  });

  it('mounts a subPath of a volume, read-only where the mount or the volume type says so', () => {
    const pod = checkPod(minimalPod((p) => {
      p.spec.volumes.push({ name: 'cfg', configMap: { name: 'cfg' } }, { name: 'scratch', emptyDir: {} });
      p.spec.containers[0].volumeMounts = [
        { name: 'cfg', mountPath: '/etc/app/a.toml', subPath: 'a.toml' },
        { name: 'scratch', mountPath: '/work', subPath: 'w', readOnly: true },
        { name: 'scratch', mountPath: '/data' },
      ];
    }));
    const ctx = context(pod, 'a');
    const mounts = pair(dockerRunArgs(pod.spec.containers[0]!, ctx).args, '--mount').slice(1);
    const cfg = ctx.volumes.get('cfg')!.hostPath;
    const scratch = ctx.volumes.get('scratch')!.hostPath;
    expect(mounts).toEqual([
      `type=bind,source=${cfg}/a.toml,target=/etc/app/a.toml,readonly`,
      `type=bind,source=${scratch}/w,target=/work,readonly`,
      `type=bind,source=${scratch},target=/data`,
    ]);
    const escape = checkPod(minimalPod((p) => {
      p.spec.volumes.push({ name: 'scratch', emptyDir: {} });
      p.spec.containers[0].volumeMounts = [{ name: 'scratch', mountPath: '/x', subPath: '../../etc' }];
    }));
    expect(() => dockerRunArgs(escape.spec.containers[0]!, context(escape, 'a'))).toThrow(/escapes/);
  });

  it('expands $(VAR) like kubelet', () => {
    const vars = new Map([['A', 'x'], ['B_C', 'y']]);
    expect(expand('$(A)-$(B_C)-$$(A)-$(NOPE)-$((1+1))', vars)).toBe('x-y-$(A)-$(NOPE)-$((1+1))');
  });
});

describe('pod volumes: kubelet\'s layout', () => {
  it('writes Secret and ConfigMap volumes with the ..data symlink swap, items and modes', () => {
    const podDir = mkdtempSync(join(dir, 'vol-'));
    const objects: PodObjects = { configMaps: { cfg: { 'sluice.toml': 'one', other: 'o' } }, secrets: { sec: { k: 'v' } } };
    const volumes = prepareVolumes([
      { name: 'config', configMap: { name: 'cfg' } },
      { name: 'picked', secret: { secretName: 'sec', defaultMode: 0o400, items: [{ key: 'k', path: 'sub/dir/key', mode: 0o440 }] } },
      { name: 'scratch', emptyDir: {} },
      { name: 'maybe', configMap: { name: 'absent', optional: true } },
    ], objects, podDir, undefined);
    const config = volumes.get('config')!.hostPath;
    expect(readlinkSync(join(config, 'sluice.toml'))).toBe('..data/sluice.toml');
    const first = readlinkSync(join(config, '..data'));
    expect(first).toMatch(/^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+$/);
    expect(readFileSync(join(config, 'sluice.toml'), 'utf8')).toBe('one');
    expect(statSync(join(config, first, 'sluice.toml')).mode & 0o777).toBe(0o644);
    const picked = volumes.get('picked')!.hostPath;
    expect(readdirSync(picked).filter((n) => !n.startsWith('..'))).toEqual(['sub']);
    expect(readFileSync(join(picked, 'sub/dir/key'), 'utf8')).toBe('v');
    expect(statSync(join(picked, 'sub/dir/key')).mode & 0o777).toBe(0o440);
    expect(volumes.get('picked')!.alwaysReadOnly).toBe(true);
    expect(statSync(volumes.get('scratch')!.hostPath).mode & 0o777).toBe(0o777);
    expect(readdirSync(volumes.get('maybe')!.hostPath).filter((n) => !n.startsWith('..'))).toEqual([]);

    // An update is a new timestamped folder and one rename of ..data; the old folder goes.
    expect(updateVolumes(volumes, 'configMap', 'cfg', { 'sluice.toml': 'two' }, undefined)).toBe(1);
    const second = readlinkSync(join(config, '..data'));
    expect(second).not.toBe(first);
    expect(readFileSync(join(config, 'sluice.toml'), 'utf8')).toBe('two');
    expect(() => lstatSync(join(config, first))).toThrow();
  });

  it('refuses a pod whose objects are missing, as kubelet keeps it from starting', () => {
    const podDir = mkdtempSync(join(dir, 'vol-'));
    expect(() => prepareVolumes([{ name: 'c', configMap: { name: 'absent' } }], { configMaps: {}, secrets: {} }, podDir, undefined)).toThrow(/does not exist/);
    expect(() => prepareVolumes([{ name: 's', secret: { secretName: 'sec', items: [{ key: 'nope', path: 'x' }] } }],
      { configMaps: {}, secrets: { sec: {} } }, podDir, undefined)).toThrow(/has no key nope/);
    expect(() => prepareVolumes([{ name: 's', secret: { secretName: 'sec', items: [{ key: 'k', path: '../escape' }] } }],
      { configMaps: {}, secrets: { sec: { k: 'v' } } }, podDir, undefined)).toThrow(/escapes/);
  });
});
