// :15001 — every other captured TCP port. Nothing is proxied: the attempt is logged and closed.
// (The original destination port is not visible to an unprivileged process without
// SO_ORIGINAL_DST, which Node does not expose; the log names the listener port and the source.)
import net from 'node:net';
import type { Runtime } from '../runtime/runtime.ts';
import { nextConnectionId } from './connection-id.ts';

export function createDenyCapture(current: () => Runtime, port: number): net.Server {
  return net.createServer((socket) => {
    const { accessLog, metrics } = current().services;
    metrics.connections.inc({ listener: 'deny' });
    accessLog.write({
      conn: nextConnectionId(),
      listener: 'deny',
      port,
      src_port: socket.remotePort,
      decision: 'deny',
      reason: 'port_not_captured',
      message: 'TCP connection to a port sluice does not proxy (only 443 and 80 are)',
    });
    socket.on('error', () => {});
    socket.destroy();
  });
}
