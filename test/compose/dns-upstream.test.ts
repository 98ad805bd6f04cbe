// docker/dns-upstream.sh, as the entrypoint runs it: which resolver sluice gets for its own
// lookups, what it prints, and the refusal with the line for .env. Runs without Docker; the one
// resolver it may probe is a dnsmasq on loopback (the host's own DNS is never asked: every other
// candidate here is loopback, which discovery skips without sending anything).
import { dirname, join } from 'node:path';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/process.ts';
import { startDnsmasq, type TestResolver } from '../helpers/dnsmasq.ts';
import { skipUnlessTools } from '../helpers/tools.ts';

const script = join(import.meta.dirname, '../../docker/dns-upstream.sh');
const skipReason = skipUnlessTools('dns-upstream.sh (real dnsmasq)', ['dnsmasq']);

describe.skipIf(skipReason !== undefined)('dns-upstream.sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-dns-upstream-'));
  let resolver: TestResolver | undefined;
  beforeAll(async () => {
    resolver = await startDnsmasq({ 'api.example.test': ['198.18.0.10'] });
  });
  afterAll(async () => {
    await resolver?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const file = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const discover = (args: string[], upstream = ''): ReturnType<typeof run> => run('sh', [script, ...args], {
    // The Node that runs this test (>= 24: it runs the TypeScript module directly).
    env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, SLUICE_DNS_UPSTREAM: upstream },
    timeoutMs: 20_000,
  });

  it('prints an explicit SLUICE_DNS_UPSTREAM once it has probed it', async () => {
    const result = await discover([join(dir, 'no-engine.conf'), file('ns.conf', 'nameserver 127.0.0.11\n')], resolver!.address);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${resolver!.address}\n`);
    expect(result.stderr).toMatch(/\(SLUICE_DNS_UPSTREAM\): answered (NOERROR|NXDOMAIN)/);
  });

  it('behind only Docker\'s embedded DNS and loopback, refuses: says what it skipped and the line for .env', async () => {
    const ns = file('embedded.conf', 'nameserver 127.0.0.11\noptions ndots:0\n');
    const engine = file('engine-loopback.conf', 'nameserver 127.0.0.53\n');
    // The first namespace file that exists is read (the holder's copy before the live file).
    const result = await discover([engine, join(dir, 'missing-snapshot.conf'), ns]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`127.0.0.11 (nameserver in ${ns}): skipped, Docker's embedded DNS`);
    expect(result.stderr).toContain(`127.0.0.53 (the engine's resolver (${engine})): skipped, loopback`);
    expect(result.stderr).toContain('no DNS resolver for sluice');
    expect(result.stderr.trimEnd().split('\n').pop()).toBe('SLUICE_DNS_UPSTREAM=IP_OF_YOUR_RESOLVER');
  });

  it('refuses a SLUICE_DNS_UPSTREAM that is not an address', async () => {
    const result = await discover([join(dir, 'none.conf'), join(dir, 'none.conf')], 'dns.example.com');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/SLUICE_DNS_UPSTREAM=dns\.example\.com: .*must be an IP address/);
  });
});
