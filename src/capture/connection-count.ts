// Counts a captured connection in the metrics while it is open, and keeps the event-loop lag
// sampler awake for its life (admin/loop-lag.ts).
import type net from 'node:net';
import type { Runtime } from '../runtime/runtime.ts';

/**
 * Its 'close' listener is the only closure that lives as long as the connection, so it holds
 * the metrics and the loop-activity release and nothing else: in the TLS listener it once shared
 * the ClientHello peek's scope, which kept the peek's listeners, its cleared timer and, until
 * issue 14, the ClientHello itself alive on every idle connection (heap snapshots).
 */
export function countConnection(socket: net.Socket, metrics: Runtime['services']['metrics'], listener: 'tls' | 'http'): void {
  metrics.connections.inc({ listener });
  metrics.activeConnections.inc({ listener });
  const idle = metrics.loopActivity.connectionOpened();
  // 'close' is emitted once: `on` spares the `once` wrapper and its scope on every connection.
  socket.on('close', () => {
    metrics.activeConnections.dec({ listener });
    idle();
  });
}
