// The checked resolver against a real dnsmasq on 127.0.0.1. dnsmasq runs with no upstream
// (--no-resolv, no --server), so nothing leaves loopback; the addresses it answers with are
// only classified, never dialled.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { promises as dnsPromises } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SluiceError } from '../../src/errors/codes.ts';
import { createResolver, parseUpstream, pickAddress, type CheckedResolver } from '../../src/upstream/resolve.ts';
import { commandPath, skipSuite, skipUnlessTools } from '../helpers/tools.ts';

// dnsmasq runs as any user here: it binds an unprivileged port and, started by a normal user,
// stays that user.
const skipReason = skipUnlessTools('resolve (real dnsmasq)', ['dnsmasq']);

// --local=/test/ makes dnsmasq authoritative for *.test: a name it does not know is NXDOMAIN
// and a family a name lacks is NODATA. Names outside .test get REFUSED (no upstream).
const RECORDS = [
  '--local=/test/',
  '--host-record=ready.test,127.0.0.1',
  '--host-record=public.test,93.184.215.14',
  '--host-record=private.test,10.0.0.5',
  '--host-record=metadata.test,169.254.169.254',
  '--host-record=mixed.test,93.184.215.14,fd00::5',
  '--host-record=mixed2.test,10.0.0.7,2606:4700:4700::1111',
  '--host-record=dual.test,93.184.215.14,2606:4700:4700::1111',
  '--host-record=dual.test,93.184.215.15',
  '--host-record=v6only.test,2606:4700:4700::1111',
  '--host-record=mapped.test,::ffff:127.0.0.1',
  '--host-record=dedupe.test,93.184.215.14,2606:4700:4700::1111',
  '--host-record=dedupe-private.test,192.168.1.1',
  '--host-record=brief.test,93.184.215.14',
  // Outside the local zone: A answered, AAAA refused (a resolver failure on one family).
  '--address=/partial.example/93.184.215.14',
];

interface Dnsmasq {
  port: number;
  child: ChildProcess;
  queries(type: 'A' | 'AAAA', name: string): number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function startDnsmasq(): Promise<Dnsmasq> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawn(commandPath('dnsmasq'), [
      '--no-daemon', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces',
      '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--pid-file=',
      '--log-queries', '--log-facility=-', '--cache-size=0',
      ...RECORDS,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout?.on('data', (chunk: Buffer) => { log += chunk.toString(); });
    child.stderr?.on('data', (chunk: Buffer) => { log += chunk.toString(); });
    const exited = once(child, 'exit');
    const stop = async (): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    };
    const queries = (type: 'A' | 'AAAA', name: string): number =>
      log.split('\n').filter((line) => line.includes(`query[${type}] ${name} from`)).length;
    // Ready once it answers; a port taken between freePort and bind makes it exit: retry.
    const probe = new dnsPromises.Resolver({ timeout: 200, tries: 1 });
    probe.setServers([`127.0.0.1:${port}`]);
    for (let i = 0; i < 50 && child.exitCode === null; i++) {
      try {
        await probe.resolve4('ready.test');
        return { port, child, queries, stop };
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await stop();
    if (!log.includes('Address already in use')) throw new Error(`dnsmasq did not start:\n${log}`);
  }
  throw new Error('dnsmasq: no free port after 5 attempts');
}

async function refusal(promise: Promise<unknown>): Promise<SluiceError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof SluiceError) return err;
    throw err;
  }
  throw new Error('expected a refusal, got an answer');
}

/** Waits (bounded) until dnsmasq's log has caught up with queries already answered. */
async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 150));
}

describe.skipIf(skipReason !== undefined)('checked resolver with a real dnsmasq upstream', () => {
  let dns: Dnsmasq;
  let resolver: CheckedResolver;

  beforeAll(async () => {
    dns = await startDnsmasq();
    resolver = createResolver({ upstream: `127.0.0.1:${dns.port}`, timeoutMs: 1000 });
  });
  afterAll(async () => {
    await dns?.stop();
  });

  it('resolves a public name to frozen, checked addresses', async () => {
    const resolved = await resolver.resolve('public.test', false);
    expect(resolved).toEqual({ host: 'public.test', addresses: [{ address: '93.184.215.14', family: 4 }] });
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(Object.isFrozen(resolved.addresses)).toBe(true);
    expect(pickAddress(resolved, 0)).toEqual({ address: '93.184.215.14', family: 4 });
    expect(pickAddress(resolved, 1)).toBeUndefined();
  });

  it('refuses a name that resolves to a private address, naming host, address and range', async () => {
    const err = await refusal(resolver.resolve('private.test', false));
    expect(err.reason).toBe('private_address');
    expect(err.status).toBe(403);
    expect(err.message).toContain('private.test');
    expect(err.message).toContain('10.0.0.5');
    expect(err.message).toContain('private (RFC 1918)');

    const metadata = await refusal(resolver.resolve('metadata.test', false));
    expect(metadata.message).toMatch(/169\.254\.169\.254.*link-local/);
  });

  it('allows the private address when the rule says private = true', async () => {
    const resolved = await resolver.resolve('private.test', true);
    expect(resolved.addresses).toEqual([{ address: '10.0.0.5', family: 4 }]);
  });

  it('refuses a name with any private address, whichever family carries it', async () => {
    const v6Private = await refusal(resolver.resolve('mixed.test', false));
    expect(v6Private.reason).toBe('private_address');
    expect(v6Private.message).toMatch(/mixed\.test resolves to fd00::5 \(ULA\)/);

    const v4Private = await refusal(resolver.resolve('mixed2.test', false));
    expect(v4Private.reason).toBe('private_address');
    expect(v4Private.message).toMatch(/mixed2\.test resolves to 10\.0\.0\.7 \(private \(RFC 1918\)\)/);

    const mapped = await refusal(resolver.resolve('mapped.test', false));
    expect(mapped.message).toMatch(/loopback via IPv4-mapped \(127\.0\.0\.1\)/);

    const allowed = await resolver.resolve('mixed.test', true);
    expect(allowed.addresses).toEqual([{ address: '93.184.215.14', family: 4 }, { address: 'fd00::5', family: 6 }]);
  });

  it('resolves A and AAAA, interleaving families with IPv4 first', async () => {
    const resolved = await resolver.resolve('dual.test', false);
    expect(resolved.addresses.map((a) => a.family)).toEqual([4, 6, 4]);
    expect(new Set(resolved.addresses.map((a) => a.address))).toEqual(new Set(['93.184.215.14', '93.184.215.15', '2606:4700:4700::1111']));
  });

  it('accepts a name with one family only', async () => {
    const resolved = await resolver.resolve('v6only.test', false);
    expect(resolved.addresses).toEqual([{ address: '2606:4700:4700::1111', family: 6 }]);
  });

  it('fails with upstream_dns for NXDOMAIN and for a resolver that refuses both families', async () => {
    const nx = await refusal(resolver.resolve('nope.test', false));
    expect(nx.reason).toBe('upstream_dns');
    expect(nx.status).toBe(502);
    expect(nx.message).toMatch(/nope\.test.*NXDOMAIN/);

    const refused = await refusal(resolver.resolve('unknown.example', true));
    expect(refused.reason).toBe('upstream_dns');
    expect(refused.message).toMatch(/refused/);
  });

  it('uses the answered family when the other fails, but keeps such an answer only briefly', async () => {
    const brief = createResolver({ upstream: `127.0.0.1:${dns.port}`, failureTtlMs: 300, timeoutMs: 1000 });
    const resolved = await brief.resolve('partial.example', false);
    expect(resolved.addresses).toEqual([{ address: '93.184.215.14', family: 4 }]);
    await brief.resolve('partial.example', false);
    await settle();
    expect(dns.queries('A', 'partial.example')).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await brief.resolve('partial.example', false);
    await settle();
    expect(dns.queries('A', 'partial.example')).toBe(2);
  });

  it('caches failures briefly, then asks again', async () => {
    const brief = createResolver({ upstream: `127.0.0.1:${dns.port}`, failureTtlMs: 300, timeoutMs: 1000 });
    await refusal(brief.resolve('gone.test', false));
    await refusal(brief.resolve('gone.test', false));
    await settle();
    expect(dns.queries('A', 'gone.test')).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await refusal(brief.resolve('gone.test', false));
    await settle();
    expect(dns.queries('A', 'gone.test')).toBe(2);
  });

  it('sends one query per family for many concurrent lookups of one name', async () => {
    const fresh = createResolver({ upstream: `127.0.0.1:${dns.port}`, timeoutMs: 1000 });
    const results = await Promise.all(Array.from({ length: 25 }, () => fresh.resolve('dedupe.test', false)));
    for (const r of results) expect(r).toBe(results[0]);
    const refusals = await Promise.all(Array.from({ length: 25 }, () => refusal(fresh.resolve('dedupe-private.test', false))));
    for (const r of refusals) expect(r.reason).toBe('private_address');
    await settle();
    expect(dns.queries('A', 'dedupe.test')).toBe(1);
    expect(dns.queries('AAAA', 'dedupe.test')).toBe(1);
    expect(dns.queries('A', 'dedupe-private.test')).toBe(1);
    // The cached answer is judged per caller: the same name is fine with private = true.
    expect((await fresh.resolve('dedupe-private.test', true)).addresses).toEqual([{ address: '192.168.1.1', family: 4 }]);
    await settle();
    expect(dns.queries('A', 'dedupe-private.test')).toBe(1);
  });

  it('classifies IP literals directly, without DNS', async () => {
    const before = dns.queries('A', '127.0.0.1') + dns.queries('AAAA', '127.0.0.1');
    const loopback = await refusal(resolver.resolve('127.0.0.1', false));
    expect(loopback.reason).toBe('private_address');
    expect(loopback.message).toMatch(/127\.0\.0\.1 is a special-purpose address \(loopback\)/);
    expect(await resolver.resolve('[::1]', true)).toEqual({ host: '::1', addresses: [{ address: '::1', family: 6 }] });
    expect(await resolver.resolve('93.184.215.14', false)).toEqual({ host: '93.184.215.14', addresses: [{ address: '93.184.215.14', family: 4 }] });
    expect((await refusal(resolver.resolve('::ffff:169.254.169.254', false))).message).toMatch(/link-local/);
    await settle();
    expect(dns.queries('A', '127.0.0.1') + dns.queries('AAAA', '127.0.0.1')).toBe(before);
  });

  it('answers from the cache within the TTL after the DNS server has gone', async () => {
    const own = await startDnsmasq();
    try {
      const cached = createResolver({ upstream: `127.0.0.1:${own.port}`, ttlMs: 30_000, timeoutMs: 300 });
      const first = await cached.resolve('public.test', false);
      await expect(cached.resolve('private.test', false)).rejects.toMatchObject({ reason: 'private_address' });
      await own.stop();
      expect(own.child.exitCode !== null || own.child.signalCode !== null).toBe(true);

      expect(await cached.resolve('public.test', false)).toBe(first);
      await expect(cached.resolve('private.test', false)).rejects.toMatchObject({ reason: 'private_address' });
      // The server really is gone: an uncached name (or a cleared cache) fails.
      await expect(cached.resolve('v6only.test', false)).rejects.toMatchObject({ reason: 'upstream_dns' });
      cached.clear();
      await expect(cached.resolve('public.test', false)).rejects.toMatchObject({ reason: 'upstream_dns' });
    } finally {
      await own.stop();
    }
  });
});

describe('checked resolver with the system resolver', () => {
  const hostsHasLocalhost = (() => {
    try {
      return /^\s*127\.0\.0\.1\s+([^#\n]*\s)?localhost(\s|$)/m.test(readFileSync('/etc/hosts', 'utf8'));
    } catch {
      return false;
    }
  })();
  if (!hostsHasLocalhost) skipSuite('resolve, localhost from /etc/hosts', '/etc/hosts has no "127.0.0.1 localhost" line');

  // Answered from /etc/hosts by getaddrinfo: no query leaves the machine.
  it.skipIf(!hostsHasLocalhost)('refuses localhost (from /etc/hosts) as loopback', async () => {
    const system = createResolver();
    const err = await refusal(system.resolve('localhost', false));
    expect(err.reason).toBe('private_address');
    expect(err.message).toMatch(/localhost resolves to .*loopback/);
    const allowed = await system.resolve('localhost', true);
    expect(allowed.addresses.map((a) => a.address)).toContain('127.0.0.1');
  });
});

describe('parseUpstream', () => {
  it.each([
    ['10.0.0.2', '10.0.0.2'],
    ['10.0.0.2:5353', '10.0.0.2:5353'],
    ['[fd00::2]:53', '[fd00::2]:53'],
    ['[fd00::2]', '[fd00::2]:53'],
    ['fd00::2', 'fd00::2'],
  ])('%s -> %s', (input, expected) => {
    expect(parseUpstream(input)).toBe(expected);
  });

  it.each([['dns.example'], ['dns.example:53'], [''], ['10.0.0.2:0']])('refuses %j', (input) => {
    expect(() => parseUpstream(input)).toThrow(/must be an IP address/);
  });
});
