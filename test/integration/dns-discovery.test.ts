// Probing and choosing sluice's own resolver against real DNS servers on loopback: dnsmasq that
// answers, dnsmasq that refuses (no upstream), a port where nothing listens, and a UDP socket
// that answers garbage. Candidates come from resolv.conf without ports, so the probe used for
// discovery maps each test address (198.18.0.0/15, never dialled) to one of those servers.
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeDnsServer, type ProbeOptions } from '../../src/upstream/dns-probe.ts';
import { discoverDnsUpstream } from '../../src/upstream/dns-discovery.ts';
import { parseResolvConf } from '../../src/upstream/resolv-conf.ts';
import { startDnsmasq, type TestResolver } from '../helpers/dnsmasq.ts';
import { freePort } from '../helpers/ports.ts';
import { startDaemon } from '../helpers/process.ts';
import { skipUnlessTools, toolPath } from '../helpers/tools.ts';

const skipReason = skipUnlessTools('dns discovery (real dnsmasq)', ['dnsmasq']);

describe.skipIf(skipReason !== undefined)('DNS upstream discovery, probed for real', () => {
  let answering: TestResolver;
  let refusing: { address: string; stop: () => Promise<void> };
  let garbage: dgram.Socket;
  let garbageAddress = '';
  let deadAddress = '';

  beforeAll(async () => {
    answering = await startDnsmasq({ 'api.example.test': ['198.18.0.10'] });
    // No upstream and no --local: every name it does not hold is REFUSED.
    const port = await freePort();
    const daemon = await startDaemon(toolPath('dnsmasq'), ['--no-daemon', '--log-facility=-', `--port=${port}`, '--listen-address=127.0.0.1',
      '--bind-interfaces', '--no-resolv', '--no-hosts', '--conf-file=/dev/null', ...(process.getuid?.() === 0 ? ['--user=root'] : [])],
    (out) => out.includes('started'), { timeoutMs: 10_000 });
    refusing = { address: `127.0.0.1:${port}`, stop: daemon.stop };
    garbage = dgram.createSocket('udp4');
    garbage.on('message', (_msg, from) => garbage.send(Buffer.from('not dns at all'), from.port, from.address));
    await new Promise<void>((resolve) => garbage.bind(0, '127.0.0.1', resolve));
    garbageAddress = `127.0.0.1:${garbage.address().port}`;
    deadAddress = `127.0.0.1:${await freePort()}`; // UDP: nothing listens there
  });

  afterAll(async () => {
    await answering?.stop();
    await refusing?.stop();
    garbage?.close();
  });

  it('a resolver that answers passes the probe; one that refuses, a dead port and a non-DNS reply do not', async () => {
    const ok = await probeDnsServer(answering.address, { timeoutMs: 2_000 });
    expect(ok).toMatchObject({ ok: true });
    const refused = await probeDnsServer(refusing.address, { timeoutMs: 2_000 });
    expect(refused).toEqual({ ok: false, reason: 'answered REFUSED' });
    const started = Date.now();
    expect(await probeDnsServer(deadAddress, { timeoutMs: 600 })).toEqual({ ok: false, reason: 'no answer within 600 ms' });
    expect(await probeDnsServer(garbageAddress, { timeoutMs: 600 })).toEqual({ ok: false, reason: 'no answer within 600 ms' });
    expect(Date.now() - started).toBeLessThan(3_000); // bounded
    expect(await probeDnsServer('not-an-address')).toMatchObject({ ok: false });
  });

  it('picks the first candidate in order that answers, after probing the ones before it', async () => {
    const at: Record<string, string> = {
      '198.18.0.1': deadAddress, '198.18.0.2': refusing.address, '198.18.0.3': garbageAddress,
      '198.18.0.4': answering.address, '198.18.0.5': answering.address,
    };
    const asked: string[] = [];
    const probe = (server: string, options: ProbeOptions): ReturnType<typeof probeDnsServer> => {
      asked.push(server);
      return probeDnsServer(at[server] ?? deadAddress, options);
    };
    const found = await discoverDnsUpstream({
      namespace: { conf: parseResolvConf('nameserver 127.0.0.11\nnameserver 198.18.0.1\n# ExtServers: [host(198.18.0.2) 198.18.0.3]\n'), path: '/ns' },
      engine: { conf: parseResolvConf('nameserver 198.18.0.4\nnameserver 198.18.0.5\n'), path: '/engine' },
    }, { probe, timeoutMs: 800 });
    expect(found.chosen).toEqual({ server: '198.18.0.4', source: "the engine's resolver (/engine)" });
    expect(found.attempts.map((a) => [a.server, a.result.ok])).toEqual([
      ['198.18.0.1', false], ['198.18.0.2', false], ['198.18.0.3', false], ['198.18.0.4', true]]);
    expect(asked).not.toContain('127.0.0.11'); // the embedded DNS is never even asked
  });

  it('finds nothing when nothing answers, having probed each candidate once within the bound', async () => {
    const started = Date.now();
    const found = await discoverDnsUpstream({
      namespace: { conf: parseResolvConf('nameserver 127.0.0.11\n'), path: '/ns' },
      engine: { conf: parseResolvConf('nameserver 198.18.0.1\nnameserver 198.18.0.2\n'), path: '/engine' },
    }, { probe: (s, o) => probeDnsServer(s === '198.18.0.1' ? deadAddress : refusing.address, o), timeoutMs: 800 });
    expect(found.chosen).toBeUndefined();
    expect(found.attempts.map((a) => a.result)).toEqual([
      { ok: false, reason: 'no answer within 800 ms' }, { ok: false, reason: 'answered REFUSED' }]);
    expect(Date.now() - started).toBeLessThan(2_000); // all at once: one timeout, not two
  });

  it('an explicit SLUICE_DNS_UPSTREAM wins over everything, and is kept even when it does not answer', async () => {
    const ns = { conf: parseResolvConf('nameserver 198.18.0.4\n'), path: '/ns' };
    const found = await discoverDnsUpstream({ explicit: answering.address, namespace: ns }, { timeoutMs: 800 });
    expect(found).toMatchObject({ chosen: { server: answering.address, source: 'SLUICE_DNS_UPSTREAM' }, explicit: true });
    expect(found.attempts[0]?.result.ok).toBe(true);
    const silent = await discoverDnsUpstream({ explicit: deadAddress, namespace: ns }, { timeoutMs: 500 });
    expect(silent.chosen?.server).toBe(deadAddress);
    expect(silent.attempts[0]?.result.ok).toBe(false);
    await expect(discoverDnsUpstream({ explicit: 'resolver.example' })).rejects.toThrow(/must be an IP address/);
  });
});
