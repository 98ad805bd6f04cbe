// :15053 — the agent's DNS, UDP and TCP (RFC 7766 length-prefixed), captured by the nat rules
// from any resolver address. What to answer is decided in dns-answer.ts; this file is sockets
// only. A malformed packet is dropped (UDP) or ends its connection (TCP), and is logged;
// nothing a client sends can make the listener throw.
import dgram from 'node:dgram';
import net from 'node:net';
import { answerDnsQuery, type DnsLogRecord, type DnsPolicy } from './dns-answer.ts';

export interface DnsListenerOptions extends DnsPolicy {
  /** Addresses to bind, e.g. ['127.0.0.1', '::1']. */
  hosts: string[];
  /** 0 picks a free port (the same one for UDP and TCP on every host). */
  port: number;
  log: (rec: DnsLogRecord) => void;
}

export interface DnsListener {
  /** The bound port. */
  readonly port: number;
  close(): Promise<void>;
}

/** A TCP client gets this long between messages before its connection is closed. */
const TCP_IDLE_MS = 10_000;
/** UDP queries answered at once; beyond this a flood is dropped rather than queued. */
const MAX_UDP_IN_FLIGHT = 512;
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
      const udp = await bindUdp(host, port, opts);
      udpSockets.push(udp);
      port = udp.address().port;
      const tcp = createTcpServer(opts, tcpClients);
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

function bindUdp(host: string, port: number, opts: DnsListenerOptions): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', ipv6Only: net.isIPv6(host) });
  let inFlight = 0;
  socket.on('message', (msg, rinfo) => {
    if (inFlight >= MAX_UDP_IN_FLIGHT) return;
    inFlight++;
    answerDnsQuery(msg, opts, 'udp')
      .then(({ response, record }) => {
        safeLog(opts, record);
        if (response) socket.send(response, rinfo.port, rinfo.address, () => {});
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

function createTcpServer(opts: DnsListenerOptions, clients: Set<net.Socket>): net.Server {
  return net.createServer((socket) => {
    clients.add(socket);
    socket.on('close', () => clients.delete(socket));
    socket.on('error', () => {});
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    let pending = Buffer.alloc(0);
    // Messages are answered one at a time, in order (RFC 7766 allows either).
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const message = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        queue = queue.then(() => answerTcp(message, socket, opts));
      }
    });
  });
}

async function answerTcp(message: Buffer, socket: net.Socket, opts: DnsListenerOptions): Promise<void> {
  if (socket.destroyed) return;
  try {
    const { response, record } = await answerDnsQuery(message, opts, 'tcp');
    safeLog(opts, record);
    if (!response) {
      socket.destroy(); // malformed: a byte stream out of step cannot be trusted further
      return;
    }
    const framed = Buffer.alloc(2 + response.length);
    framed.writeUInt16BE(response.length, 0);
    response.copy(framed, 2);
    socket.write(framed);
  } catch {
    safeLog(opts, { name: '', type: '', decision: 'deny', reason: 'bad_request' });
    socket.destroy();
  }
}
