// `sluice k8s bootstrap` and `sluice webhook certs`: the objects an injected pod refers to, the
// pod's sluice.toml, and the webhook's serving certificate as the API server will verify it.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifests } from '../../src/k8s/manifest-yaml.ts';
import { checkPodConfig, withPodFolders } from '../../src/k8s/pod-config.ts';
import { createWebhookCertificates } from '../../src/k8s/webhook-certs.ts';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../bin/sluice.js');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-bootstrap-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const CREDENTIAL = `
[[allow]]
host = "api.anthropic.com"

[credentials.anthropic]
hosts = ["api.anthropic.com"]
surrogate = "sk-ant-api03-sluice-EXAMPLE"
secret = { file = "/sluice/secrets/anthropic" }
`;

describe('the pod\'s sluice.toml', () => {
  it('gets the pod\'s folders where it names none, under an existing [proxy] or a new one', () => {
    const withProxy = withPodFolders('[proxy]\nagent = "a"\n' + CREDENTIAL);
    expect(checkPodConfig(withProxy).problems).toEqual([]);
    expect(withProxy).toContain('[proxy]\n# set by `sluice k8s bootstrap`: the folders of the injected pod\nca_dir = "/sluice/ca"\nlog_dir = "/sluice/logs"\nagent = "a"');
    const without = withPodFolders(CREDENTIAL);
    expect(checkPodConfig(without).problems).toEqual([]);
    expect(checkPodConfig(without).secretKeys).toEqual(['anthropic']);
    expect(withPodFolders(without)).toBe(without);
  });

  it('refuses to move folders the file sets elsewhere, naming the key', () => {
    expect(() => withPodFolders('[proxy]\nca_dir = "certs"\n')).toThrow('proxy.ca_dir = "certs"; in the pod it must be "/sluice/ca"');
  });

  it('names every secret source the pod cannot serve', () => {
    const { problems } = checkPodConfig(withPodFolders(CREDENTIAL.replace('{ file = "/sluice/secrets/anthropic" }', '{ env = "ANTHROPIC_API_KEY" }')));
    expect(problems).toEqual([expect.stringContaining('credentials.anthropic.secret reads $ANTHROPIC_API_KEY')]);
    const other = checkPodConfig(withPodFolders(CREDENTIAL.replace('/sluice/secrets/anthropic', '/run/secrets/anthropic')));
    expect(other.problems).toEqual([expect.stringContaining('reads /run/secrets/anthropic')]);
  });
});

describe('sluice k8s bootstrap', () => {
  it('prints the CA Secret, the secrets Secret, and the two ConfigMaps that belong together', async () => {
    await writeFile(join(dir, 'sluice.toml'), CREDENTIAL);
    await mkdir(join(dir, 'secrets'));
    await writeFile(join(dir, 'secrets/anthropic'), 'sk-ant-REAL');
    const { stdout, stderr } = await run(process.execPath, [CLI, 'k8s', 'bootstrap', '-c', join(dir, 'sluice.toml'), '-n', 'agents', '--secrets-dir', join(dir, 'secrets')], { timeout: 30_000 });
    expect(stderr).toContain('[dns] upstream is not set');
    const [caSecret, secrets, config, trust] = parseManifests(stdout).map((d) => d.value as any); // eslint-disable-line @typescript-eslint/no-explicit-any
    const caPem = Buffer.from(caSecret.data['ca.crt'], 'base64').toString();
    const ca = new X509Certificate(caPem);
    expect(ca.ca).toBe(true);
    expect(ca.checkPrivateKey((await import('node:crypto')).createPrivateKey(Buffer.from(caSecret.data['ca.key'], 'base64').toString()))).toBe(true);
    expect(Buffer.from(secrets.data.anthropic, 'base64').toString()).toBe('sk-ant-REAL');
    expect(checkPodConfig(config.data['sluice.toml']).problems).toEqual([]);
    expect(trust.data['ca.crt']).toBe(caPem);
    expect(trust.data['ca-bundle.crt']).toContain(caPem.trim());
    expect(trust.data['ca.key']).toBeUndefined();
    expect(JSON.stringify(trust)).not.toContain(caSecret.data['ca.key']);
  });

  it('reuses the CA in --ca-dir, and without --secrets-dir prints the kubectl line for the keys', async () => {
    await run(process.execPath, [CLI, 'ca', 'init', '--dir', join(dir, 'ca')], { timeout: 30_000 });
    const { stdout, stderr } = await run(process.execPath, [CLI, 'k8s', 'bootstrap', '-c', join(dir, 'sluice.toml'), '--ca-dir', join(dir, 'ca')], { timeout: 30_000 });
    const [caSecret, secrets] = parseManifests(stdout).map((d) => d.value as any); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(Buffer.from(caSecret.data['ca.crt'], 'base64').toString()).toBe(await readFile(join(dir, 'ca/ca.crt'), 'utf8'));
    expect(secrets.data).toEqual({});
    expect(stderr).toContain('kubectl create secret generic sluice-secrets --from-file=anthropic=./anthropic');
  });
});

describe('sluice webhook certs', () => {
  it('makes a serving certificate for the Service names that openssl verifies against the caBundle', async () => {
    const certs = await createWebhookCertificates('sluice-webhook', 'sluice');
    await writeFile(join(dir, 'ca.pem'), certs.caPem);
    await writeFile(join(dir, 'tls.pem'), certs.certPem);
    for (const name of ['sluice-webhook.sluice.svc', 'sluice-webhook.sluice.svc.cluster.local']) {
      const { stdout } = await run('openssl', ['verify', '-CAfile', join(dir, 'ca.pem'), '-purpose', 'sslserver', '-verify_hostname', name, join(dir, 'tls.pem')], { timeout: 10_000 });
      expect(stdout).toContain(': OK');
    }
    const wrong = await run('openssl', ['verify', '-CAfile', join(dir, 'ca.pem'), '-verify_hostname', 'other.sluice.svc', join(dir, 'tls.pem')]).catch((e: { stdout: string }) => e);
    expect((wrong as { stdout: string }).stdout).not.toContain(': OK');
    const leaf = new X509Certificate(certs.certPem);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkPrivateKey((await import('node:crypto')).createPrivateKey(certs.keyPem))).toBe(true);
  });
});
