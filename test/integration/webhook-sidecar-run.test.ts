// The sidecar the webhook injects, run as the pod runs it (DESIGN.md §7): `sluice run -c
// /sluice/config/sluice.toml` with the config in a ConfigMap volume and the CA in a Secret
// volume, both laid out as kubelet lays them out, and ready by the probe the pod uses
// (`sluice healthcheck`). sluice writes nothing into either folder, and a ConfigMap update
// (kubelet's `..data` swap) reloads the policy.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateCa } from '../../src/tls/ca.ts';
import { createAtomicVolume, updateAtomicVolume } from '../fixtures/k8s/atomic-writer.ts';
import { startDaemon, waitFor } from '../helpers/process.ts';
import { freePort } from '../helpers/ports.ts';

const execAsync = promisify(execFile);
const CLI = join(import.meta.dirname, '../../bin/sluice.js');
const root = mkdtempSync(join(tmpdir(), 'sluice-sidecar-'));
const configDir = join(root, 'config');
const caDir = join(root, 'ca');
const logDir = join(root, 'logs');
let daemon: Awaited<ReturnType<typeof startDaemon>>;
let toml: (rules: string) => string;

beforeAll(async () => {
  const [https, http, deny, dns, admin] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  toml = (rules) => `[proxy]\nca_dir = "${caDir}"\nlog_dir = "${logDir}"\nhttps_port = ${https}\nhttp_port = ${http}\ndeny_port = ${deny}\ndns_port = ${dns}\nadmin_port = ${admin}\n\n[dns]\nupstream = "127.0.0.1:${dns}"\n\n${rules}`;
  const made = join(root, 'made');
  await loadOrCreateCa(made);
  createAtomicVolume(caDir, { 'ca.crt': readFileSync(join(made, 'ca.crt'), 'utf8'), 'ca.key': readFileSync(join(made, 'ca.key'), 'utf8') }, 0o444);
  createAtomicVolume(configDir, { 'sluice.toml': toml('[[allow]]\nhost = "one.example"\n') });
  daemon = await startDaemon(process.execPath, [CLI, 'run', '-c', join(configDir, 'sluice.toml')], (out) => out.includes('listening on'), { timeoutMs: 30_000 });
});

afterAll(async () => {
  await daemon?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('the injected sidecar on kubelet volumes', () => {
  it('becomes ready by the pod\'s probe command, warning about nothing', async () => {
    await waitFor(async () => (await execAsync(process.execPath, [CLI, 'healthcheck', '-c', join(configDir, 'sluice.toml')]).then(() => true, () => false)), 20_000, 'sluice healthcheck');
    expect(daemon.output()).not.toMatch(/readable by group or others/);
    expect(daemon.output()).toContain('sluice-trust ConfigMap');
  });

  it('writes nothing into the CA or config folders', () => {
    expect(readdirSync(caDir).filter((n) => !n.startsWith('..')).sort()).toEqual(['ca.crt', 'ca.key']);
    expect(readdirSync(configDir).filter((n) => !n.startsWith('..')).sort()).toEqual(['sluice.toml']);
  });

  it('reloads when the ConfigMap changes', async () => {
    const before = daemon.output().split('configuration reloaded').length;
    updateAtomicVolume(configDir, { 'sluice.toml': toml('[[allow]]\nhost = "one.example"\n\n[[allow]]\nhost = "two.example"\n') });
    await waitFor(() => daemon.output().split('configuration reloaded').length > before, 10_000, 'a reload');
    expect(daemon.output()).toMatch(/"rules":2[,}].*configuration reloaded/);
  });
});
