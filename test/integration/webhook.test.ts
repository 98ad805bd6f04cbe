// `sluice webhook` as the API server meets it (DESIGN.md §7): a real process serving HTTPS with
// the certificate `sluice webhook certs` made, verified by name against its caBundle, sent
// AdmissionReview v1 requests shaped as the API server sends them. The JSONPatch it answers,
// applied with an RFC 6902 library (fast-json-patch), must give exactly what `sluice inject`
// prints for the same pod.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import https from 'node:https';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fastJsonPatch from 'fast-json-patch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifests } from '../../src/k8s/manifest-yaml.ts';
import { freePort } from '../helpers/ports.ts';

const { applyPatch, validate } = fastJsonPatch;
const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'bin/sluice.js');
const REVIEW = join(ROOT, 'test/fixtures/k8s/admission-review-pod.json');
const SERVICE_NAME = 'sluice-webhook.sluice.svc';

let dir: string;
let ca: string;
let port: number;
let webhook: ChildProcess;
let logs = '';

interface Answer { status: number; body: string; json?: any } // eslint-disable-line @typescript-eslint/no-explicit-any

function post(path: string, body: string | Buffer, method = 'POST'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path, method, ca, servername: SERVICE_NAME, headers: { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let json: unknown;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, body: text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

async function review(mutate: (r: any) => void = () => {}): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = JSON.parse(await readFile(REVIEW, 'utf8'));
  mutate(r);
  return r;
}

/** What `sluice inject` prints for this object (the CLI, through a file). */
async function injectCli(object: unknown): Promise<unknown> {
  const file = join(dir, `pod-${Math.random().toString(16).slice(2)}.json`);
  await writeFile(file, JSON.stringify(object));
  const { stdout } = await run(process.execPath, [CLI, 'inject', '-f', file, '--image', 'registry.example/sluice:test'], { timeout: 30_000 });
  const docs = parseManifests(stdout);
  expect(docs).toHaveLength(1);
  return docs[0]!.value;
}

function patched(object: unknown, answer: Answer): unknown {
  const response = answer.json.response;
  expect(response.patchType).toBe('JSONPatch');
  const ops = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'));
  expect(validate(ops, structuredClone(object))).toBeUndefined();
  return applyPatch(structuredClone(object), ops, true, false).newDocument;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-webhook-'));
  await run(process.execPath, [CLI, 'webhook', 'certs', '--service', 'sluice-webhook', '--namespace', 'sluice', '--out', join(dir, 'certs')], { timeout: 30_000 });
  ca = await readFile(join(dir, 'certs/ca.crt'), 'utf8');
  port = await freePort();
  webhook = spawn(process.execPath, [CLI, 'webhook', '--listen', `127.0.0.1:${port}`, '--tls-cert', join(dir, 'certs/tls.crt'), '--tls-key', join(dir, 'certs/tls.key')], {
    env: { ...process.env, SLUICE_IMAGE: 'registry.example/sluice:test' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  webhook.stderr?.on('data', (c: Buffer) => (logs += c.toString()));
  const deadline = Date.now() + 20_000;
  while (!logs.includes('webhook listening')) {
    if (Date.now() > deadline || webhook.exitCode !== null) throw new Error(`webhook did not start: ${logs}`);
    await new Promise((r) => setTimeout(r, 50));
  }
});

afterAll(async () => {
  if (webhook !== undefined && webhook.exitCode === null) {
    const exited = new Promise((r) => webhook.once('exit', r));
    webhook.kill('SIGTERM');
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
});

describe('sluice webhook over HTTPS', () => {
  it('answers /healthz and /readyz', async () => {
    expect(await post('/healthz', '', 'GET')).toMatchObject({ status: 200 });
    expect(await post('/readyz', '', 'GET')).toMatchObject({ status: 200 });
  });

  it('injects a Pod CREATE: same uid, a JSONPatch that gives exactly what `sluice inject` prints', async () => {
    const r = await review();
    const answer = await post('/mutate', JSON.stringify(r));
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: r.request.uid, allowed: true } });
    const result = patched(r.request.object, answer);
    expect(result).toEqual(await injectCli(r.request.object));
    expect((result as any).spec.initContainers[1]).toMatchObject({ name: 'sluice', restartPolicy: 'Always', image: 'registry.example/sluice:test' }); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(logs).toContain('"decision":"injected"');
  });

  it('injects a pod labelled sluice.dev/inject: "true" the same way', async () => {
    const r = await review((x) => { x.request.object.metadata.labels['sluice.dev/inject'] = 'true'; });
    const answer = await post('/mutate', JSON.stringify(r));
    expect(patched(r.request.object, answer)).toEqual(await injectCli(r.request.object));
  });

  it('leaves a pod labelled sluice.dev/inject: "false" alone: allowed, no patch', async () => {
    const r = await review((x) => { x.request.object.metadata.labels['sluice.dev/inject'] = 'false'; });
    const answer = await post('/mutate', JSON.stringify(r));
    expect(answer.json.response).toEqual({ uid: r.request.uid, allowed: true });
  });

  it('answers a dry run with the same patch (sideEffects: None)', async () => {
    const wet = await post('/mutate', JSON.stringify(await review()));
    const dry = await post('/mutate', JSON.stringify(await review((x) => { x.request.dryRun = true; })));
    expect(dry.json.response.patch).toBe(wet.json.response.patch);
    expect(dry.json.response.allowed).toBe(true);
  });

  it('allows an already injected pod with no patch, even with the API server\'s defaults filled in', async () => {
    const r = await review();
    const injected = patched(r.request.object, await post('/mutate', JSON.stringify(r))) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    for (const c of [...injected.spec.initContainers, ...injected.spec.containers]) Object.assign(c, { terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File' });
    const again = await review((x) => { x.request.object = injected; });
    const answer = await post('/mutate', JSON.stringify(again));
    expect(answer.json.response).toEqual({ uid: r.request.uid, allowed: true });
  });

  it('on reinvocation after another webhook added a container, gives it the trust material and keeps one sluice', async () => {
    const r = await review();
    const injected = patched(r.request.object, await post('/mutate', JSON.stringify(r))) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    injected.spec.containers.push({ name: 'late', image: 'example/late:1' });
    const again = await review((x) => { x.request.object = injected; });
    const result = patched(injected, await post('/mutate', JSON.stringify(again))) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(result).toEqual(await injectCli(injected));
    expect(result.spec.initContainers.map((c: { name: string }) => c.name)).toEqual(['sluice-init', 'sluice']);
    const late = result.spec.containers.find((c: { name: string }) => c.name === 'late');
    expect(late.volumeMounts).toEqual([{ name: 'sluice-trust', mountPath: '/etc/sluice', readOnly: true }]);
  });

  it('does not trust a forged marker: a pod that only claims to be injected gets sluice', async () => {
    const r = await review((x) => { x.request.object.metadata.annotations = { 'sluice.dev/status': 'injected', 'sluice.dev/version': '0.1.0' }; });
    const result = patched(r.request.object, await post('/mutate', JSON.stringify(r))) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(result.spec.initContainers.map((c: { name: string }) => c.name)).toEqual(['sluice-init', 'sluice']);
  });

  it('refuses an unsafe pod: allowed false, with the reason naming the container', async () => {
    const r = await review((x) => { x.request.object.spec.containers[0].securityContext = { runAsUser: 1337 }; });
    const answer = await post('/mutate', JSON.stringify(r));
    expect(answer.status).toBe(200);
    expect(answer.json.response.uid).toBe(r.request.uid);
    expect(answer.json.response.allowed).toBe(false);
    expect(answer.json.response.status.message).toContain('container "agent" runs as uid 1337');
    expect(answer.json.response.patch).toBeUndefined();
  });

  it('answers malformed reviews with 400 and a one-line reason', async () => {
    const cases: Array<[string | Buffer, RegExp]> = [
      ['{not json', /not JSON/],
      ['[]', /not a JSON object/],
      [JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: {} }), /apiVersion is "admission.k8s.io\/v1beta1"/],
      [JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), /no request/],
      [JSON.stringify(await review((x) => { delete x.request.uid; })), /request.uid is missing/],
      [JSON.stringify(await review((x) => { x.request.object = { kind: 'Service' }; x.request.resource = { group: '', version: 'v1', resource: 'pods' }; })), /not a Pod/],
      [JSON.stringify(await review((x) => { x.request.resource = { group: 'apps', version: 'v1', resource: 'deployments' }; })), /mutates pods only/],
    ];
    for (const [body, reason] of cases) {
      const answer = await post('/mutate', body);
      expect(answer.status, String(body).slice(0, 60)).toBe(400);
      expect(answer.body).toMatch(reason);
      expect(answer.body.trimEnd().split('\n')).toHaveLength(1);
    }
  });

  it('refuses other paths and methods', async () => {
    expect((await post('/other', '{}')).status).toBe(404);
    expect((await post('/mutate', '', 'GET')).status).toBe(405);
  });
});
