// sluice's DNS listener on loopback, queried by Node's own stub resolver (c-ares) over UDP and
// by hand-framed queries over TCP: allowlisted names get the resolver's addresses, every other
// name gets the sinkhole (or NXDOMAIN) without the resolver ever being asked, and nothing a
// client sends takes the listener down.
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { DecodedPacket, RecordType } from 'dns-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDnsListener, type DnsListener } from '../../src/capture/dns-listener.ts';
import type { DnsLogRecord } from '../../src/capture/dns-answer.ts';

const ALLOWED = new Set(['api.example.test', 'many.example.test', 'broken.example.test']);
const ADDRESSES: Record<string, { address: string; family: 4 | 6 }[]> = {
  'api.example.test': [
    { address: '198.18.0.10', family: 4 },
    { address: '198.18.0.11', family: 4 },
    { address: '2001:db8::10', family: 6 },
  ],
  // More A records than fit in 512 bytes: the UDP answer must be truncated.
  'many.example.test': Array.from({ length: 60 }, (_, i) => ({ address: `198.18.1.${i + 1}`, family: 4 as const })),
};

interface Harness {
  listener: DnsListener;
  logs: DnsLogRecord[];
  resolved: string[];
}

async function start(deny: 'sinkhole' | 'nxdomain', hosts = ['127.0.0.1']): Promise<Harness> {
  const logs: DnsLogRecord[] = [];
  const resolved: string[] = [];
  const listener = await startDnsListener({
    hosts,
    port: 0,
    deny,
    isAllowed: (name) => ALLOWED.has(name),
    resolve: async (name) => {
      resolved.push(name);
      const found = ADDRESSES[name];
      if (!found) throw Object.assign(new Error('no such name upstream'), { reason: 'upstream_dns' });
      return found;
    },
    log: (rec) => logs.push(rec),
  });
  return { listener, logs, resolved };
}

function stub(port: number, host = '127.0.0.1'): Resolver {
  const resolver = new Resolver({ timeout: 1_000, tries: 1 });
  resolver.setServers([net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`]);
  return resolver;
}

function query(name: string, type: RecordType, id = 4242): Buffer {
  return dnsPacket.encode({
    type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }],
  });
}

/** One UDP exchange; resolves undefined when no answer arrives within `waitMs`. */
function udpExchange(port: number, payload: Buffer, waitMs = 1_000): Promise<DecodedPacket | undefined> {
  const socket = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(undefined), waitMs);
    const finish = (value: DecodedPacket | undefined): void => {
      clearTimeout(timer);
      socket.close();
      resolve(value);
    };
    socket.on('message', (msg) => finish(dnsPacket.decode(msg)));
    socket.send(payload, port, '127.0.0.1');
  });
}

/** Sends framed messages on one TCP connection; collects `expect` answers or the close. */
function tcpExchange(port: number, frames: Buffer[], expectCount: number): Promise<{ answers: DecodedPacket[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const answers: DecodedPacket[] = [];
    let buffer = Buffer.alloc(0);
    const socket = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('TCP exchange timed out')); }, 3_000);
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ answers, closed });
    };
    socket.on('connect', () => socket.write(Buffer.concat(frames)));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 2 && buffer.length >= 2 + buffer.readUInt16BE(0)) {
        answers.push(dnsPacket.decode(buffer.subarray(2, 2 + buffer.readUInt16BE(0))));
        buffer = buffer.subarray(2 + buffer.readUInt16BE(0));
      }
      if (answers.length >= expectCount) done(false);
    });
    socket.on('close', () => done(true));
    socket.on('error', () => {});
  });
}

function frame(message: Buffer): Buffer {
  const framed = Buffer.alloc(2 + message.length);
  framed.writeUInt16BE(message.length, 0);
  message.copy(framed, 2);
  return framed;
}

/** The address data of a decoded answer section. */
const dataOf = (packet: DecodedPacket | undefined) =>
  (packet?.answers ?? []).map((a) => ('data' in a ? a.data : undefined));

const rcodeOf = (packet: DecodedPacket | undefined) => (packet as (DecodedPacket & { rcode?: string }) | undefined)?.rcode;

describe('DNS listener, sinkhole mode', () => {
  let h: Harness;
  beforeAll(async () => { h = await start('sinkhole'); });
  afterAll(async () => { await h.listener.close(); });
  afterEach(() => { h.logs.length = 0; h.resolved.length = 0; });

  it('answers an allowlisted name with the resolver\'s addresses, short TTL, A and AAAA', async () => {
    const resolver = stub(h.listener.port);
    const a = await resolver.resolve4('api.example.test', { ttl: true });
    expect(a.map((r) => r.address).sort()).toEqual(['198.18.0.10', '198.18.0.11']);
    expect(a.every((r) => r.ttl === 30)).toBe(true);
    expect(await resolver.resolve6('api.example.test')).toEqual(['2001:db8::10']);
    expect(h.logs).toContainEqual({ name: 'api.example.test', type: 'A', decision: 'allow', answers: 2 });
    expect(h.logs).toContainEqual({ name: 'api.example.test', type: 'AAAA', decision: 'allow', answers: 1 });
  });

  it('matches names case-insensitively and without the trailing dot', async () => {
    const answer = await udpExchange(h.listener.port, query('API.Example.TEST.', 'A'));
    expect(dataOf(answer)).toEqual(['198.18.0.10', '198.18.0.11']);
    expect(answer?.answers?.[0]?.name).toBe('API.Example.TEST'); // the question's own spelling
    expect(h.resolved).toEqual(['api.example.test']);
  });

  it('sinkholes a name that is not allowlisted, without asking the resolver', async () => {
    const resolver = stub(h.listener.port);
    expect(await resolver.resolve4('exfil-c2VjcmV0.attacker.test')).toEqual(['198.18.255.254']);
    expect(await resolver.resolve6('exfil-c2VjcmV0.attacker.test')).toEqual(['100::1']);
    expect(h.resolved).toEqual([]);
    expect(h.logs).toContainEqual({
      name: 'exfil-c2vjcmv0.attacker.test', type: 'A', decision: 'deny', reason: 'not_allowlisted', answers: 1,
    });
  });

  it('gives nothing useful for TXT or MX, allowlisted or not, and never forwards', async () => {
    const resolver = stub(h.listener.port);
    await expect(resolver.resolveTxt('data.attacker.test')).rejects.toMatchObject({ code: 'ENODATA' });
    await expect(resolver.resolveMx('api.example.test')).rejects.toMatchObject({ code: 'ENODATA' });
    const raw = await udpExchange(h.listener.port, query('data.attacker.test', 'TXT'));
    expect(rcodeOf(raw)).toBe('NOERROR');
    expect(raw?.answers).toEqual([]);
    expect(h.resolved).toEqual([]);
  });

  it('answers SERVFAIL when an allowlisted name cannot be resolved', async () => {
    await expect(stub(h.listener.port).resolve4('broken.example.test')).rejects.toMatchObject({ code: 'ESERVFAIL' });
    expect(h.logs).toContainEqual({ name: 'broken.example.test', type: 'A', decision: 'allow', reason: 'upstream_dns' });
  });

  it('truncates a UDP answer that does not fit, and TCP carries it whole', async () => {
    const udp = await udpExchange(h.listener.port, query('many.example.test', 'A'));
    expect(udp?.flag_tc).toBe(true);
    expect(udp?.answers?.length).toBeLessThan(60);
    // c-ares retries over TCP on TC, as real stub resolvers do.
    expect(await stub(h.listener.port).resolve4('many.example.test')).toHaveLength(60);
  });

  it('serves TCP, several length-prefixed queries on one connection', async () => {
    const { answers, closed } = await tcpExchange(h.listener.port,
      [frame(query('api.example.test', 'A', 1)), frame(query('other.attacker.test', 'AAAA', 2))], 2);
    expect(closed).toBe(false);
    expect(answers.map((a) => a.id)).toEqual([1, 2]);
    expect(dataOf(answers[0])).toEqual(['198.18.0.10', '198.18.0.11']);
    expect(dataOf(answers[1])).toEqual(['100::1']);
  });

  it('drops malformed UDP packets, logs them, and keeps answering', async () => {
    expect(await udpExchange(h.listener.port, Buffer.from([0x12, 0x34, 0x01]), 300)).toBeUndefined();
    const garbage = Buffer.concat([query('api.example.test', 'A').subarray(0, 12), Buffer.from('\xff\xff\xff\xff', 'latin1')]);
    expect(await udpExchange(h.listener.port, garbage, 300)).toBeUndefined();
    const response = dnsPacket.encode({ type: 'response', id: 7, questions: [{ type: 'A', name: 'x.test' }], answers: [] });
    expect(await udpExchange(h.listener.port, response, 300)).toBeUndefined(); // never answer an answer
    expect(h.logs.filter((l) => l.reason === 'bad_request')).toHaveLength(3);
    expect(await stub(h.listener.port).resolve4('api.example.test')).toHaveLength(2);
  });

  it('closes a TCP connection that sends a malformed message', async () => {
    const { answers, closed } = await tcpExchange(h.listener.port, [frame(Buffer.from('not dns at all'))], 1);
    expect(closed).toBe(true);
    expect(answers).toEqual([]);
    expect(h.logs).toContainEqual({ name: '', type: '', decision: 'deny', reason: 'bad_request' });
  });

  it('answers other opcodes NOTIMP and empty questions FORMERR', async () => {
    const notify = Buffer.from(query('api.example.test', 'SOA'));
    notify.writeUInt16BE((4 << 11) | 0x0100, 2); // opcode NOTIFY
    expect(rcodeOf(await udpExchange(h.listener.port, notify))).toBe('NOTIMP');
    const empty = dnsPacket.encode({ type: 'query', id: 9, questions: [] });
    expect(rcodeOf(await udpExchange(h.listener.port, empty))).toBe('FORMERR');
    expect(h.resolved).toEqual([]);
  });

  it('echoes EDNS with an OPT record of its own', async () => {
    const edns = dnsPacket.encode({
      type: 'query', id: 11, flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type: 'A', name: 'api.example.test' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
    });
    const answer = await udpExchange(h.listener.port, edns);
    expect(answer?.additionals?.map((a) => a.type)).toEqual(['OPT']);
    expect(answer?.flag_rd).toBe(true);
    expect(answer?.flag_ra).toBe(true);
  });
});

describe('DNS listener, nxdomain mode', () => {
  let h: Harness;
  beforeAll(async () => { h = await start('nxdomain'); });
  afterAll(async () => { await h.listener.close(); });

  it('answers NXDOMAIN for every type of a name that is not allowlisted', async () => {
    const resolver = stub(h.listener.port);
    await expect(resolver.resolve4('evil.attacker.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(resolver.resolveTxt('evil.attacker.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(h.resolved).toEqual([]);
    expect(await resolver.resolve4('api.example.test')).toHaveLength(2);
  });
});

describe('DNS listener lifecycle', () => {
  it('binds UDP and TCP on the same port on both loopbacks, and close frees them', async () => {
    const hosts = ['127.0.0.1', ...(await ipv6LoopbackUsable() ? ['::1'] : [])];
    const h = await start('sinkhole', hosts);
    const port = h.listener.port;
    expect(await stub(port).resolve4('api.example.test')).toHaveLength(2);
    if (hosts.includes('::1')) expect(await stub(port, '::1').resolve6('api.example.test')).toEqual(['2001:db8::10']);
    const idle = net.connect(port, '127.0.0.1'); // an open TCP client must not hold close() up
    idle.on('error', () => {});
    await new Promise((resolve) => idle.once('connect', resolve));
    await h.listener.close();
    await h.listener.close(); // twice is fine
    const again = await startDnsListener({
      hosts, port, deny: 'sinkhole', isAllowed: () => false, resolve: async () => [], log: () => {},
    });
    expect(again.port).toBe(port);
    await again.close();
    idle.destroy();
  });

  it('rejects when the address cannot be bound, leaving nothing open', async () => {
    await expect(startDnsListener({
      hosts: ['127.0.0.1', '192.0.2.77'], port: 0, deny: 'sinkhole', isAllowed: () => false,
      resolve: async () => [], log: () => {},
    })).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
  });
});

async function ipv6LoopbackUsable(): Promise<boolean> {
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '::1', resolve); });
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}
