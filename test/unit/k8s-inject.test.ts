// `sluice inject` (DESIGN.md §7): golden output for every workload kind, idempotence, upgrade,
// opt-out, pass-through, and the CLI as a user runs it. UPDATE_GOLDEN=1 rewrites the goldens
// (then read the diff: it is the contract the pod runner and the README follow).
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SLUICE_VERSION, STATUS_ANNOTATION, VERSION_ANNOTATION } from '../../src/k8s/constants.ts';
import { injectPodTemplate, type InjectOptions } from '../../src/k8s/inject-pod.ts';
import { joinManifests, parseManifests, printManifest } from '../../src/k8s/manifest-yaml.ts';
import { DEFAULT_PORTS } from '../../src/k8s/sidecar-containers.ts';
import type { Container, PodSpec, PodTemplate } from '../../src/k8s/types.ts';
import { injectObject, WORKLOAD_KINDS, type ObjectReport } from '../../src/k8s/workloads.ts';

const run = promisify(execFile);
const FIXTURES = join(import.meta.dirname, '../fixtures/k8s');
const CLI = join(import.meta.dirname, '../../bin/sluice.js');
const NATIVE: InjectOptions = { image: 'sluice:0.1.0', mode: 'native', uid: 1337, ports: DEFAULT_PORTS, version: SLUICE_VERSION };
const CONTAINER: InjectOptions = { ...NATIVE, mode: 'container' };

function injectText(text: string, options: InjectOptions, reports: ObjectReport[] = []): string {
  return joinManifests(parseManifests(text).map((doc) => {
    const out = injectObject(doc.value, options, reports);
    return out === doc.value ? doc.text : printManifest(out);
  }));
}

function golden(name: string, actual: string): void {
  const path = join(FIXTURES, name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(path)) writeFileSync(path, actual);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

/** The pod template of each document, whatever its kind. */
function templates(text: string): Array<{ kind: string; template: PodTemplate }> {
  const out: Array<{ kind: string; template: PodTemplate }> = [];
  for (const doc of parseManifests(text)) {
    const o = doc.value as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const kind = o.kind as string;
    const t = kind === 'Pod' ? { metadata: o.metadata, spec: o.spec } : kind === 'CronJob' ? o.spec.jobTemplate.spec.template : o.spec?.template;
    if (t !== undefined) out.push({ kind, template: t as PodTemplate });
  }
  return out;
}

const workloads = readFileSync(join(FIXTURES, 'workloads.yaml'), 'utf8');

describe('sluice inject: every workload kind', () => {
  it('matches the golden output (native sidecar)', () => {
    golden('workloads.injected.yaml', injectText(workloads, NATIVE));
  });

  it('matches the golden output (--sidecar=container)', () => {
    golden('workloads.injected-container.yaml', injectText(workloads, CONTAINER));
  });

  it('injects one pod template in each of the eight kinds and reports each', () => {
    const reports: ObjectReport[] = [];
    const out = injectText(workloads, NATIVE, reports);
    const found = templates(out);
    expect(found.map((f) => f.kind).sort()).toEqual([...WORKLOAD_KINDS].sort());
    for (const { kind, template } of found) {
      expect(template.metadata?.annotations?.[STATUS_ANNOTATION], kind).toBe('injected');
      expect(template.metadata?.annotations?.[VERSION_ANNOTATION], kind).toBe(SLUICE_VERSION);
      const init = template.spec.initContainers ?? [];
      expect(init.slice(0, 2).map((c) => c.name), kind).toEqual(['sluice-init', 'sluice']);
      expect(init[1]?.restartPolicy, kind).toBe('Always');
      expect(template.spec.containers.map((c) => c.name), kind).not.toContain('sluice');
    }
    expect(reports.map((r) => `${r.object} ${r.outcome}`)).toEqual([
      'Pod/agent injected', 'Deployment/agent injected', 'StatefulSet/agent-state injected', 'DaemonSet/agent-everywhere injected',
      'ReplicaSet/agent-rs injected', 'ReplicationController/agent-rc injected', 'Job/agent-once injected', 'CronJob/agent-nightly injected',
    ]);
  });

  it('passes every other object through byte for byte, comments included', () => {
    const out = injectText(workloads, NATIVE);
    expect(out).toContain('# Not a workload: passes through unchanged, comments and all.\napiVersion: v1\nkind: Service');
    expect(out).toContain('    - port: 80 # http\n');
    expect(out).toContain('  answer: "yes"\n');
  });

  it('reads YAML as Kubernetes does (1.1): defaultMode 0644 stays octal 420', () => {
    const pod = templates(injectText(workloads, NATIVE))[0]!.template;
    const legacy = pod.spec.volumes?.find((v) => v.name === 'legacy-mode') as unknown as { secret: { defaultMode: number } };
    expect(legacy.secret.defaultMode).toBe(0o644);
  });

  it('gives app containers the trust mount and variables, replacing their own trust variables', () => {
    const pod = templates(injectText(workloads, NATIVE))[0]!.template;
    const agent = pod.spec.containers[0]!;
    const env = Object.fromEntries((agent.env ?? []).map((e) => [e.name, e.value]));
    expect(env.SSL_CERT_FILE).toBe('/etc/sluice/ca-bundle.crt');
    expect(env.NODE_EXTRA_CA_CERTS).toBe('/etc/sluice/ca.crt');
    expect(env.ANTHROPIC_API_KEY).toBe('sk-ant-api03-sluice-EXAMPLE');
    expect((agent.env ?? []).filter((e) => e.name === 'SSL_CERT_FILE')).toHaveLength(1);
    expect(agent.volumeMounts).toContainEqual({ name: 'sluice-trust', mountPath: '/etc/sluice', readOnly: true });
    // The app container gets nothing of sluice's own: no CA key, no secrets, no logs.
    expect(agent.volumeMounts?.map((m) => m.name)).toEqual(['work', 'sluice-trust']);
    // The app's own init containers are agent code too.
    const deployment = templates(injectText(workloads, NATIVE))[1]!.template;
    const fetch = deployment.spec.initContainers?.find((c) => c.name === 'fetch-tools');
    expect(fetch?.volumeMounts?.map((m) => m.name)).toEqual(['sluice-trust']);
    expect(deployment.spec.initContainers?.map((c) => c.name)).toEqual(['sluice-init', 'sluice', 'fetch-tools']);
  });

  it('mounts the CA, secrets and logs into sluice alone, read-only except the logs', () => {
    const spec = templates(injectText(workloads, NATIVE))[0]!.template.spec;
    const sluice = spec.initContainers?.find((c) => c.name === 'sluice') as Container;
    expect(sluice.volumeMounts).toEqual([
      { name: 'sluice-config', mountPath: '/sluice/config', readOnly: true },
      { name: 'sluice-ca', mountPath: '/sluice/ca', readOnly: true },
      { name: 'sluice-secrets', mountPath: '/sluice/secrets', readOnly: true },
      { name: 'sluice-logs', mountPath: '/sluice/logs' },
    ]);
    const users = (name: string): string[] => [...(spec.initContainers ?? []), ...spec.containers]
      .filter((c) => c.volumeMounts?.some((m) => m.name === name)).map((c) => c.name);
    expect(users('sluice-ca')).toEqual(['sluice']);
    expect(users('sluice-secrets')).toEqual(['sluice']);
    expect(users('sluice-logs')).toEqual(['sluice']);
    expect(sluice.securityContext).toMatchObject({ runAsUser: 1337, runAsGroup: 1337, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    const init = spec.initContainers?.[0] as Container;
    expect(init.securityContext).toMatchObject({ runAsUser: 0, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] } });
    expect(init.command).toEqual(['/app/iptables/sluice-init.sh', 'apply']);
  });

  it('puts sluice first in containers with a postStart wait for --sidecar=container', () => {
    const spec = templates(injectText(workloads, CONTAINER))[1]!.template.spec;
    expect(spec.initContainers?.map((c) => c.name)).toEqual(['sluice-init', 'fetch-tools']);
    expect(spec.containers.map((c) => c.name)).toEqual(['sluice', 'agent']);
    expect(spec.containers[0]?.restartPolicy).toBeUndefined();
    expect(JSON.stringify(spec.containers[0]?.['lifecycle'])).toContain('healthcheck');
  });

  it('takes the uid and ports from the config, for the capture rules', () => {
    const options = { ...NATIVE, uid: 1400, ports: { https: 16443, http: 16080, deny: 16001, dns: 16053, admin: 16000 } };
    const spec = templates(injectText(workloads, options))[0]!.template.spec;
    const env = Object.fromEntries((spec.initContainers?.[0]?.env ?? []).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({ SLUICE_UID: '1400', SLUICE_HTTPS_PORT: '16443', SLUICE_HTTP_PORT: '16080', SLUICE_DENY_PORT: '16001', SLUICE_DNS_PORT: '16053', SLUICE_ADMIN_PORT: '16000' });
    expect(spec.initContainers?.[1]?.securityContext?.runAsUser).toBe(1400);
  });
});

describe('sluice inject: twice, upgrades, opt-out, List', () => {
  it('changes nothing the second time', () => {
    const once = injectText(workloads, NATIVE);
    const reports: ObjectReport[] = [];
    expect(injectText(once, NATIVE, reports)).toBe(once);
    expect(reports.every((r) => r.outcome === 'unchanged' && r.why === 'already injected')).toBe(true);
    expect(injectText(injectText(workloads, CONTAINER), CONTAINER)).toBe(injectText(workloads, CONTAINER));
  });

  it('re-injects a pod injected by another sluice version, leaving one copy of everything', () => {
    const old = parseManifests(injectText(workloads, { ...NATIVE, version: '0.0.9', image: 'sluice:0.0.9' }))[0]!.value as PodTemplate;
    const fresh = parseManifests(injectText(workloads, NATIVE))[0]!.value;
    const upgraded = injectObject(old, NATIVE);
    expect(upgraded).toEqual(fresh);
  });

  it('does not trust the marker alone: a forged or tampered injection is injected properly', () => {
    const forged: PodTemplate = { metadata: { annotations: { 'sluice.dev/status': 'injected', 'sluice.dev/version': SLUICE_VERSION } }, spec: { containers: [{ name: 'agent', image: 'x' }] } };
    expect(injectPodTemplate(forged, NATIVE).outcome).toBe('injected');
    const real = parseManifests(injectText(workloads, NATIVE))[0]!.value as PodTemplate;
    const tampered = structuredClone(real);
    tampered.spec.initContainers!.find((c) => c.name === 'sluice-init')!.command = ['true'];
    const fixed = injectPodTemplate(tampered, NATIVE);
    expect(fixed.outcome).toBe('injected');
    expect(fixed.template).toEqual(real);
  });

  it('leaves a template labelled sluice.dev/inject: "false" alone', () => {
    const text = readFileSync(join(FIXTURES, 'opted-out.yaml'), 'utf8');
    const reports: ObjectReport[] = [];
    expect(injectText(text, NATIVE, reports)).toBe(text);
    expect(reports).toEqual([{ object: 'Deployment/not-an-agent', outcome: 'skipped', why: 'label sluice.dev/inject=false' }]);
  });

  it('injects the items of a List and keeps the others', () => {
    const out = injectText(readFileSync(join(FIXTURES, 'list.yaml'), 'utf8'), NATIVE);
    golden('list.injected.yaml', out);
    const list = parse(out) as { items: Array<{ kind: string; spec: { template?: PodTemplate } }> };
    expect(list.items.map((i) => i.kind)).toEqual(['Deployment', 'Service']);
    expect(list.items[0]?.spec.template?.spec.initContainers?.[1]?.name).toBe('sluice');
  });

  it('never changes its input', () => {
    const spec: PodSpec = { containers: [{ name: 'agent', image: 'x', env: [{ name: 'A', value: '1' }] }] };
    const before = structuredClone(spec);
    injectPodTemplate({ spec }, NATIVE);
    expect(spec).toEqual(before);
  });
});

describe('sluice inject: the command', () => {
  it('reads files, folders, JSON and stdin; writes YAML; reports on stderr', async () => {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'inject', '-f', join(FIXTURES, 'pod.json'), '-f', join(FIXTURES, 'opted-out.yaml')], { timeout: 20_000 });
    const docs = parseManifests(stdout);
    expect(docs).toHaveLength(2);
    expect((docs[0]!.value as PodTemplate).metadata?.annotations?.[STATUS_ANNOTATION]).toBe('injected');
    expect(stderr).toContain('Pod/from-json injected');
    expect(stderr).toContain('Deployment/not-an-agent skipped');

    // A folder: its manifests in name order, other files ignored.
    const folder = mkdtempSync(join(tmpdir(), 'sluice-inject-dir-'));
    try {
      copyFileSync(join(FIXTURES, 'opted-out.yaml'), join(folder, 'b.yml'));
      copyFileSync(join(FIXTURES, 'pod.json'), join(folder, 'a.json'));
      writeFileSync(join(folder, 'notes.txt'), 'kind: Pod');
      const fromDir = await run(process.execPath, [CLI, 'inject', folder], { timeout: 20_000 });
      expect(fromDir.stdout).toBe(stdout);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }

    const piped = execFile(process.execPath, [CLI, 'inject', '-'], { timeout: 20_000 });
    piped.stdin?.end(workloads);
    const out = await new Promise<string>((resolve, reject) => {
      let text = '';
      piped.stdout?.on('data', (c: Buffer) => (text += c.toString()));
      piped.on('error', reject);
      piped.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`exit ${code}`))));
    });
    expect(out).toBe(injectText(workloads, NATIVE));
  });

  it('refuses an unsafe pod with exit 1, naming the object and the container, and prints nothing', async () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata: {name: evil}\nspec:\n  containers:\n    - name: agent\n      image: x\n      securityContext: {capabilities: {add: [NET_ADMIN]}}\n';
    const child = execFile(process.execPath, [CLI, 'inject'], { timeout: 20_000 });
    child.stdin?.end(text);
    const result = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      let out = '';
      let err = '';
      child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
      child.on('close', (code) => resolve({ code, out, err }));
    });
    expect(result.code).toBe(1);
    expect(result.out).toBe('');
    expect(result.err).toContain('Pod/evil: container "agent" adds capability NET_ADMIN');
  });

  it('checks -c sluice.toml against the pod layout', async () => {
    const bad = await run(process.execPath, [CLI, 'inject', '-c', join(import.meta.dirname, '../../sluice.toml'), '-f', join(FIXTURES, 'pod.json')], { timeout: 20_000 }).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(1);
    expect((bad as { stderr: string }).stderr).toContain('set ca_dir = "/sluice/ca"');
  });

  it('has --help', async () => {
    for (const args of [['inject', '--help'], ['webhook', '--help'], ['webhook', 'certs', '--help'], ['k8s', '--help'], ['k8s', 'bootstrap', '--help']]) {
      const { stdout } = await run(process.execPath, [CLI, ...args], { timeout: 20_000 });
      expect(stdout, args.join(' ')).toMatch(/^usage/);
    }
  });
});
