import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caCommand } from '../../src/cli/ca.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sluice-cli-ca-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function ca(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await caCommand(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe('sluice ca', () => {
  it('init creates the CA once, says where, and how to trust it', async () => {
    const dir = join(root, 'certs');
    const first = await ca('init', '--dir', dir);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`Created a new CA in ${dir}`);
    expect(first.stdout).toContain(`NODE_EXTRA_CA_CERTS=${join(dir, 'ca.crt')}`);
    expect(first.stdout).toContain('sluice ca bundle -o FILE');
    expect(first.stdout).toMatch(/SHA-256 {6}([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    expect((await stat(join(dir, 'ca.key'))).mode & 0o777).toBe(0o600);
    const again = await ca('init', '--dir', dir);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Using the existing CA in ${dir}`);
  });

  it('show prints exactly ca.crt', async () => {
    const dir = join(root, 'show');
    await ca('init', '--dir', dir);
    const out = await ca('show', '--dir', dir);
    expect(out.code).toBe(0);
    expect(out.stdout).toBe(await readFile(join(dir, 'ca.crt'), 'utf8'));
    expect(out.stdout).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);
  });

  it('bundle writes system roots + the CA to -o, or prints them', async () => {
    const dir = join(root, 'bundle');
    await ca('init', '--dir', dir);
    const caPem = (await readFile(join(dir, 'ca.crt'), 'utf8')).trim();
    const outFile = join(root, 'bundle.pem');
    const written = await ca('bundle', '--dir', dir, '-o', outFile);
    expect(written.code).toBe(0);
    expect(written.stdout).toBe('');
    expect(written.stderr).toContain(`wrote ${outFile}`);
    const bundle = await readFile(outFile, 'utf8');
    expect(bundle).toContain(caPem);
    expect((bundle.match(/BEGIN CERTIFICATE/g) ?? []).length).toBeGreaterThan(50);
    const printed = await ca('bundle', '--dir', dir);
    expect(printed.stdout).toBe(bundle);
  });

  it('show and bundle never create a CA', async () => {
    const dir = join(root, 'missing');
    for (const sub of ['show', 'bundle']) {
      const out = await ca(sub, '--dir', dir);
      expect(out.code).toBe(1);
      expect(out.stderr).toContain('sluice ca init');
    }
    expect(existsSync(dir)).toBe(false);
  });

  it('reports a mismatched key and exits 1', async () => {
    const a = join(root, 'mm-a');
    const b = join(root, 'mm-b');
    await ca('init', '--dir', a);
    await ca('init', '--dir', b);
    await copyFile(join(b, 'ca.key'), join(a, 'ca.key'));
    const out = await ca('init', '--dir', a);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^sluice ca init: .*ca\.key is not the private key of .*ca\.crt/);
  });

  it.each([
    [[], /missing subcommand/],
    [['rotate'], /unexpected "rotate"/],
    [['show', 'extra'], /unexpected "extra"/],
    [['init', '-c', 'x.toml', '--dir', 'd'], /either -c or --dir/],
    [['show', '--dir', 'd', '-o', 'f'], /-o is only for `ca bundle`/],
    [['init', '--bogus'], /Unknown option '--bogus'/],
  ])('usage error %j exits 2', async (argv, message) => {
    const out = await ca(...(argv as string[]));
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(message);
    expect(out.stderr).toContain('usage:');
  });

  it('--help prints the usage', async () => {
    const out = await ca('--help');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('sluice ca bundle');
  });

  it('-c finds ca_dir in the config, relative to the file', async () => {
    const confDir = join(root, 'conf');
    await rm(confDir, { recursive: true, force: true });
    await mkdir(confDir);
    const file = join(confDir, 'sluice.toml');
    await writeFile(file, '[proxy]\nagent = "test"\nca_dir = "my-certs"\n\n[[allow]]\nhost = "api.example.com"\n');
    const out = await ca('init', '-c', file);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`Created a new CA in ${join(confDir, 'my-certs')}`);
  });
});
