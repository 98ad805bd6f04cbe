// Does a DNS server answer from here? One real query over UDP, bounded in time, before sluice
// trusts a resolver it discovered: an address in a config file proves nothing about whether it
// is reachable from this network namespace (Docker Desktop's host(…) resolvers, a corporate
// resolver behind a route the container does not have).
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { isIP } from 'node:net';
import dnsPacket from 'dns-packet';
import type { DecodedPacket } from 'dns-packet';
import { splitHostPort } from '../names/host.ts';
import { parseUpstream } from './resolve.ts';

export type ProbeResult =
  | { ok: true; ms: number; rcode: string }
  | { ok: false; reason: string };

export interface ProbeOptions {
  /** Whole budget for the probe, resends included. */
  timeoutMs?: number;
  /** The name asked for (type NS). The root is answered by every recursive resolver. */
  name?: string;
}

/** rcodes that prove a working resolver: it looked the name up (or knows there is none). */
const USABLE_RCODES = new Set(['NOERROR', 'NXDOMAIN']);

/** server: "IP", "IP:port" or "[IPv6]:port" (port 53 when absent). Never rejects. */
export async function probeDnsServer(server: string, options: ProbeOptions = {}): Promise<ProbeResult> {
  const timeoutMs = options.timeoutMs ?? 2_000;
  let host: string;
  let port: number;
  try {
    const normal = parseUpstream(server);
    const split = isIP(normal) !== 0 ? { host: normal, port: 53 } : splitHostPort(normal);
    if (split === undefined) return { ok: false, reason: 'not an address' };
    host = split.host;
    port = split.port ?? 53;
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }

  const id = randomInt(1, 0xffff);
  const query = dnsPacket.encode({
    type: 'query', id, flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'NS', name: options.name ?? '.' }],
  });
  const socket = dgram.createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  const started = Date.now();
  return new Promise<ProbeResult>((resolve) => {
    const timers: NodeJS.Timeout[] = [];
    let done = false;
    const finish = (result: ProbeResult): void => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      socket.removeAllListeners('message');
      socket.on('error', () => {});
      socket.close();
      resolve(result);
    };
    socket.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, reason: err.code ?? err.message }));
    socket.on('message', (msg: Buffer) => {
      let reply: DecodedPacket;
      try {
        reply = dnsPacket.decode(msg);
      } catch {
        return; // not DNS: keep waiting for the real answer
      }
      if (reply.id !== id || !reply.flag_qr) return;
      // dns-packet decodes the rcode by name; its type declarations leave the field out.
      const rcode = (reply as DecodedPacket & { rcode?: string }).rcode ?? 'NOERROR';
      if (USABLE_RCODES.has(rcode)) finish({ ok: true, ms: Date.now() - started, rcode });
      else finish({ ok: false, reason: `answered ${rcode}` });
    });
    // UDP may lose a datagram: send again a third of the way in, once.
    const send = (): void => {
      if (done) return;
      socket.send(query, port, host, (err) => {
        if (err) finish({ ok: false, reason: (err as NodeJS.ErrnoException).code ?? err.message });
      });
    };
    send();
    timers.push(setTimeout(send, Math.floor(timeoutMs / 3)));
    timers.push(setTimeout(() => finish({ ok: false, reason: `no answer within ${timeoutMs} ms` }), timeoutMs));
  });
}
