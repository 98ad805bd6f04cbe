// A TCP address that drops SYNs: a listener whose accept queue is full. python's listen(0) and
// no accept() (Node accepts by itself); the queue (backlog 0 holds one connection) is filled
// from here, after which the kernel drops further SYNs, so a connect there never completes.
import net from 'node:net';
import { startDaemon } from './process.ts';

export interface Blackhole {
  stop(): Promise<void>;
}

export async function startBlackhole(host: string, port: number): Promise<Blackhole> {
  const script = `
import socket, sys, time
family = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(family); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(0)
print('ready', flush=True)
time.sleep(600)
`;
  const daemon = await startDaemon('python3', ['-c', script, host, String(port)], (out) => out.includes('ready'), { timeoutMs: 10_000 });
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const s = net.connect({ host, port });
    s.on('error', () => {});
    fillers.push(s);
  }
  await new Promise((r) => setTimeout(r, 200));
  return {
    async stop() {
      for (const s of fillers) s.destroy();
      await daemon.stop();
    },
  };
}
