// Issue 11 item 6, DNS over TCP: a client that pipelines queries and never reads its answers
// made the listener read and answer everything, queueing every reply in memory. Now reading
// pauses while MAX_UNANSWERED queries are open or write() reports a full socket, connections
// are capped, and replies waiting to be written draw on a buffer budget. The flooder runs in
// its own process (python3, blocking sends that stall once sluice stops reading), so what
// grows in this process is the listener's, not the attacker's, memory.
import net from 'node:net';
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { startDnsListener, MAX_TCP_CONNECTIONS, TCP_IDLE_MS, type DnsListener } from '../../src/capture/dns-listener.ts';
import { BufferBudget } from '../../src/pipeline/buffer-budget.ts';
import { run, waitFor } from '../helpers/process.ts';

const NAME = 'api.example.test';
let listener: DnsListener | undefined;
const sockets: net.Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await listener?.close();
  listener = undefined;
});

async function start(budget: BufferBudget): Promise<{ port: number; answered: () => number }> {
  let answered = 0;
  listener = await startDnsListener({
    hosts: ['127.0.0.1'],
    port: 0,
    deny: 'nxdomain',
    budget,
    isAllowed: (name) => name === NAME,
    resolve: async () => [{ address: '198.18.0.10', family: 4 }],
    log: () => {
      answered++;
    },
  });
  return { port: listener.port, answered: () => answered };
}

function query(id: number): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: NAME, class: 'IN' }] });
}

/** One query over a fresh TCP connection; resolves with the answer's id, or rejects on timeout. */
function tcpQuery(port: number, id: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    sockets.push(socket);
    const timer = setTimeout(() => reject(new Error(`no TCP answer within ${timeoutMs} ms`)), timeoutMs);
    let got = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(dnsPacket.decode(got.subarray(2, 2 + got.readUInt16BE(0))).id ?? -1);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    const q = query(id);
    const framed = Buffer.alloc(2 + q.length);
    framed.writeUInt16BE(q.length, 0);
    q.copy(framed, 2);
    socket.write(framed);
  });
}

function udpQuery(port: number, id: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no UDP answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(dnsPacket.decode(msg).id ?? -1);
    });
    socket.send(query(id), port, '127.0.0.1');
  });
}

/**
 * python3: one TCP connection on which pipelined queries are written for `seconds` (as fast as
 * the socket takes them), never reading; then it holds the connection for `hold` seconds.
 * Prints the number of queries that went out.
 */
const FLOODER = `
import socket, struct, sys, time, select
port, seconds, hold = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
name = b'\\x03api\\x07example\\x04test\\x00'
msg = struct.pack('>HHHHHH', 1, 0x0100, 1, 0, 0, 0) + name + struct.pack('>HH', 1, 1)
one = struct.pack('>H', len(msg)) + msg
block = one * 5000
s = socket.create_connection(('127.0.0.1', port))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.setblocking(False)
sent = 0
pending = b''
deadline = time.time() + seconds
while time.time() < deadline:
    if not pending:
        pending = block
    _, writable, _ = select.select([], [s], [], 0.1)
    if not writable:
        continue
    try:
        n = s.send(pending)
    except BlockingIOError:
        continue
    sent += n
    pending = pending[n:]
print(sent // len(one), flush=True)
time.sleep(hold)
`;

const MIB = 1024 * 1024;

function memory(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

describe('DNS over TCP under a flood of pipelined queries that are never read', () => {
  it('stops reading, keeps memory bounded, and still answers other clients', async () => {
    const budget = new BufferBudget(64 * MIB);
    const { port, answered } = await start(budget);
    const before = memory();
    const flood = run('python3', ['-c', FLOODER, String(port), '9', '0'], { timeoutMs: 60_000 });

    // Let the flood fill every buffer on the way, then look while it holds the connection.
    // The listener must stop answering (it stopped reading) while the client is still trying
    // to send: wait for 1.5 s without a new answer, at most 7 s.
    const t0 = performance.now();
    let last = -1;
    let quietSince = t0;
    while (performance.now() - t0 < 7_000 && performance.now() - quietSince < 1_500) {
      await new Promise((r) => setTimeout(r, 250));
      if (answered() !== last) {
        last = answered();
        quietSince = performance.now();
      }
    }
    const quietFor = performance.now() - quietSince;
    const answeredDuring = answered();
    // Another client is answered at once, over TCP and UDP.
    await expect(tcpQuery(port, 7, 2_000)).resolves.toBe(7);
    await expect(udpQuery(port, 8, 2_000)).resolves.toBe(8);
    const grown = memory() - before;
    const result = await flood;
    const sent = Number(result.stdout.trim());
    console.log(`DNS flood: client sent ${sent} queries; sluice answered ${answeredDuring} while the client never read; listener memory grew ${(grown / MIB).toFixed(1)} MiB`);

    // Reading stopped while the client still sent: it answered what the socket buffers could
    // take, and its memory did not grow with the flood.
    expect(quietFor, `the listener was still answering after 7 s (${answeredDuring} answers)`).toBeGreaterThanOrEqual(1_500);
    expect(answeredDuring).toBeLessThan(sent);
    expect(grown).toBeLessThan(16 * MIB);
    // The flooder has gone: everything it held is given back.
    await waitFor(() => budget.usedBytes === 0, 5_000, 'the DNS budget to return to zero');
  });

  it('caps TCP connections: extra ones are closed, the rest keep working', async () => {
    const { port } = await start(new BufferBudget(64 * MIB));
    const open = await Promise.all(Array.from({ length: MAX_TCP_CONNECTIONS }, () => new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(s));
      s.on('error', reject);
      sockets.push(s);
    })));
    // Give the server a moment to accept them all.
    await new Promise((r) => setTimeout(r, 200));
    const extra = net.connect(port, '127.0.0.1');
    sockets.push(extra);
    extra.on('error', () => {});
    await new Promise<void>((resolve) => extra.once('close', () => resolve()));
    expect(open.every((s) => !s.destroyed)).toBe(true);
    // Capacity comes back when a connection ends.
    open[0]?.destroy();
    await new Promise((r) => setTimeout(r, 100));
    await expect(tcpQuery(port, 9, 2_000)).resolves.toBe(9);
  });

  it('a spent budget closes the connection instead of queueing its replies', async () => {
    const budget = new BufferBudget(0);
    const { port } = await start(budget);
    await expect(tcpQuery(port, 10, 2_000)).rejects.toThrow();
    expect(budget.usedBytes).toBe(0);
  });

  // The slots must not be held by a query that never completes: an inactivity timer was reset by
  // each byte, so a 65,535-byte query announced and dripped one byte every 2 s (the attacker's
  // review dripped 64 of them, holding every slot) kept its connection open past the idle limit.
  it('closes a connection whose query is dripped one byte at a time, at the idle limit', async () => {
    const { port } = await start(new BufferBudget(1 << 20));
    const s = net.connect(port, '127.0.0.1');
    sockets.push(s);
    s.on('error', () => {});
    let closedAt: number | undefined;
    s.on('close', () => {
      closedAt = performance.now();
    });
    await new Promise((resolve) => s.once('connect', resolve));
    const started = performance.now();
    s.write(Buffer.from([0xff, 0xff]));
    while (closedAt === undefined && performance.now() - started < TCP_IDLE_MS + 3_000) {
      await new Promise((r) => setTimeout(r, 1_000));
      if (!s.destroyed) s.write(Buffer.from([0x00]));
    }
    expect(closedAt, 'a dripped query still holds its connection').toBeDefined();
    expect((closedAt as number) - started).toBeLessThanOrEqual(TCP_IDLE_MS + 1_000);
  }, TCP_IDLE_MS + 8_000);

  // Nor by a client that stops reading its answers: waiting on a full socket is no progress (a
  // review of the dripped-query fix found it kept such a client forever).
  it('closes a connection that pipelines queries and never reads the answers, at the idle limit', async () => {
    const { port, answered } = await start(new BufferBudget(64 << 20));
    const s = net.connect(port, '127.0.0.1');
    sockets.push(s);
    s.on('error', () => {});
    await new Promise((resolve) => s.once('connect', resolve));
    s.pause(); // never reads
    let closed = false;
    s.once('close', () => {
      closed = true;
    });
    const q = dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'A', name: NAME, class: 'IN' }] });
    const framed = Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q]);
    // Enough answers to fill both sides' socket buffers (~60 bytes each), sent in a few writes.
    const batch = Buffer.concat(Array.from({ length: 20_000 }, () => framed));
    for (let i = 0; i < 10 && !s.destroyed; i++) s.write(batch);
    // Wait until the socket buffers are full and sluice stops answering, then the idle limit.
    const started = performance.now();
    let last = -1;
    while (answered() !== last && performance.now() - started < 20_000) {
      last = answered();
      await new Promise((r) => setTimeout(r, 1_000));
    }
    expect(answered(), 'every query was answered: the socket buffers never filled').toBeLessThan(200_000);
    await new Promise((r) => setTimeout(r, TCP_IDLE_MS + 3_000));
    // Read now: a connection sluice closed ends once its buffered answers are read (a reset may
    // also have been seen already, through the client's own writes).
    s.resume();
    for (let i = 0; i < 30 && !closed; i++) await new Promise((r) => setTimeout(r, 100));
    expect(closed, 'a client that never reads still holds its connection').toBe(true);
  }, TCP_IDLE_MS + 35_000);
});
