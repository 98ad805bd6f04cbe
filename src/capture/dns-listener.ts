// :15053 — the agent's DNS, UDP and TCP (RFC 7766 length-prefixed), captured by the nat rules
// from any resolver address. What to answer is decided in dns-answer.ts; this file is sockets
// only. A malformed packet is dropped (UDP) or ends its connection (TCP), and is logged;
// nothing a client sends can make the listener throw.
//
// Memory is bounded whatever a client does (DESIGN.md §1, issue 11 item 6): at most
// MAX_TCP_CONNECTIONS connections; per connection at most MAX_UNANSWERED queries read and not
// yet answered; reading pauses while that many are open or while write() reports a full
// socket (a client that pipelines queries and never reads its answers), and resumes on
// 'drain'. Replies waiting to be written draw on the shared buffer budget; when it is spent the
// connection is closed (UDP: the reply is dropped) rather than queued.
import dgram from 'node:dgram';
import net from 'node:net';
import { answerDnsQuery, type DnsLogRecord, type DnsPolicy } from './dns-answer.ts';
import { sharedBufferBudget, type BufferBudget, type BufferReservation } from '../pipeline/buffer-budget.ts';

export interface DnsListenerOptions extends DnsPolicy {
  /** Addresses to bind, e.g. ['127.0.0.1', '::1']. */
  hosts: string[];
  /** 0 picks a free port (the same one for UDP and TCP on every host). */
  port: number;
  log: (rec: DnsLogRecord) => void;
  /** Where replies waiting to be sent are counted; default the process's shared budget. */
  budget?: BufferBudget;
}

export interface DnsListener {
  /** The bound port. */
  readonly port: number;
  close(): Promise<void>;
}

/** A TCP connection without progress (no complete query taken, no answer written) this long is closed. */
export const TCP_IDLE_MS = 10_000;
/** UDP queries answered at once; beyond this a flood is dropped rather than queued. */
const MAX_UDP_IN_FLIGHT = 512;
/** TCP connections open at once (all bound addresses together); more are closed on accept. */
export const MAX_TCP_CONNECTIONS = 64;
/** Queries read from one TCP connection and not yet answered; beyond, reading pauses. */
export const MAX_UNANSWERED = 16;
/** Unparsed bytes kept per connection: one largest message plus one read. */
const MAX_PENDING_BYTES = 2 + 65_535 + 64 * 1024;
const MAX_PORT_ATTEMPTS = 5;

export async function startDnsListener(opts: DnsListenerOptions): Promise<DnsListener> {
  if (opts.hosts.length === 0) throw new Error('startDnsListener: no hosts to bind');
  for (let attempt = 1; ; attempt++) {
    try {
      return await bindAll(opts);
    } catch (err) {
      // With port 0 the port UDP got may already be taken for TCP (or on another host): retry.
      const retry = opts.port === 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (!retry || attempt >= MAX_PORT_ATTEMPTS) throw err;
    }
  }
}

async function bindAll(opts: DnsListenerOptions): Promise<DnsListener> {
  const udpSockets: dgram.Socket[] = [];
  const tcpServers: net.Server[] = [];
  const tcpClients = new Set<net.Socket>();
  let port = opts.port;
  const closeAll = async (): Promise<void> => {
    for (const client of tcpClients) client.destroy();
    await Promise.all([
      ...udpSockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      ...tcpServers.filter((s) => s.listening).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    ]);
  };
  try {
    for (const host of opts.hosts) {
      const udp = await bindUdp(host, port, opts, opts.budget ?? sharedBufferBudget);
      udpSockets.push(udp);
      port = udp.address().port;
      const tcp = createTcpServer(opts, tcpClients, opts.budget ?? sharedBufferBudget);
      tcpServers.push(tcp);
      await listenTcp(tcp, host, port);
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    port,
    close: () => (closed ??= closeAll()),
  };
}

function safeLog(opts: DnsListenerOptions, record: DnsLogRecord): void {
  try {
    opts.log(record);
  } catch {
    // A failing logger must not take DNS down with it.
  }
}

function bindUdp(host: string, port: number, opts: DnsListenerOptions, budget: BufferBudget): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', ipv6Only: net.isIPv6(host) });
  const unsent = budget.open(socket);
  socket.once('close', () => unsent.release());
  let inFlight = 0;
  socket.on('message', (msg, rinfo) => {
    if (inFlight >= MAX_UDP_IN_FLIGHT) return;
    inFlight++;
    answerDnsQuery(msg, opts, 'udp')
      .then(({ response, record }) => {
        safeLog(opts, record);
        if (!response) return;
        // UDP may lose a datagram anyway: without room in the budget the reply is dropped.
        if (!unsent.grow(response.length)) {
          safeLog(opts, { ...record, decision: 'deny', reason: 'over_capacity' });
          return;
        }
        socket.send(response, rinfo.port, rinfo.address, () => unsent.shrink(response.length));
      })
      .catch(() => safeLog(opts, { name: '', type: '', decision: 'deny', reason: 'bad_request' }))
      .finally(() => inFlight--);
  });
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.removeListener('error', onError);
      socket.on('error', () => {}); // e.g. ICMP unreachable for a client that went away
      resolve(socket);
    });
  });
}

function listenTcp(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true, ipv6Only: net.isIPv6(host) }, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
}

function createTcpServer(opts: DnsListenerOptions, clients: Set<net.Socket>, budget: BufferBudget): net.Server {
  return net.createServer((socket) => {
    socket.on('error', () => {});
    if (clients.size >= MAX_TCP_CONNECTIONS) {
      safeLog(opts, { name: '', type: '', decision: 'deny', reason: 'over_capacity' });
      socket.destroy();
      return;
    }
    clients.add(socket);
    const unsent = budget.open(socket);
    let pending: Buffer = Buffer.alloc(0);
    let unanswered = 0;
    // Idle means no progress for TCP_IDLE_MS: no complete query taken, no answer handed to the
    // kernel. Not "no byte": an inactivity timer was reset by each byte, so 64 queries announced
    // as 65,535 bytes and dripped one byte every 9 s held every connection slot for days (an
    // attacker's review). A client that stops reading its answers makes no progress either.
    // While sluice is still resolving a query (≤ 5 s), the wait is sluice's.
    const idle = setTimeout(function closeIfIdle() {
      if (unanswered > 0 && !socket.writableNeedDrain) idle.refresh();
      else socket.destroy();
    }, TCP_IDLE_MS);
    /** Progress: a query taken or an answer handed to the kernel. One per connection, not per query. */
    const progressed = (): void => {
      idle.refresh();
    };
    socket.on('close', () => {
      clients.delete(socket);
      unsent.release();
      clearTimeout(idle);
    });
    // Messages are answered one at a time, in order (RFC 7766 allows either).
    let queue = Promise.resolve();
    const mayRead = (): boolean => unanswered < MAX_UNANSWERED && !socket.writableNeedDrain;
    /** Starts the complete messages it may, then pauses or resumes reading accordingly. */
    const pump = (): void => {
      if (socket.destroyed) return;
      while (mayRead() && pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const message = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        unanswered++;
        progressed();
        queue = queue
          .then(() => answerTcp(message, socket, opts, unsent, progressed))
          .finally(() => {
            unanswered--;
            pump();
          });
      }
      if (mayRead()) socket.resume();
      else socket.pause();
    };
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      // Reading is paused long before this; a client cannot make sluice hold more.
      if (pending.length > MAX_PENDING_BYTES) {
        socket.destroy();
        return;
      }
      pump();
    });
    socket.on('drain', pump);
  });
}

/** `onWritten`: the answer reached the kernel (progress: see the idle deadline). */
async function answerTcp(message: Buffer, socket: net.Socket, opts: DnsListenerOptions, unsent: BufferReservation, onWritten: () => void): Promise<void> {
  if (socket.destroyed) return;
  try {
    const { response, record } = await answerDnsQuery(message, opts, 'tcp');
    safeLog(opts, record);
    if (!response) {
      socket.destroy(); // malformed: a byte stream out of step cannot be trusted further
      return;
    }
    if (socket.destroyed) return;
    const framed = Buffer.alloc(2 + response.length);
    framed.writeUInt16BE(response.length, 0);
    response.copy(framed, 2);
    if (!unsent.grow(framed.length)) {
      safeLog(opts, { ...record, decision: 'deny', reason: 'over_capacity' });
      socket.destroy();
      return;
    }
    // Counted until the kernel has it; write()'s false is seen by pump() as writableNeedDrain.
    socket.write(framed, () => {
      unsent.shrink(framed.length);
      onWritten();
    });
  } catch {
    safeLog(opts, { name: '', type: '', decision: 'deny', reason: 'bad_request' });
    socket.destroy();
  }
}
