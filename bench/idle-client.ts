// Child process of the idle-memory test (run as the load uid inside the client namespace, so
// its connections are captured): opens N TLS connections, sends one keep-alive HTTP/1.1
// request on each and reads the whole response, then holds them all idle. It prints one JSON
// line when they are all established, and closes everything when stdin ends or the hold
// time is over.
//
// usage: node idle-client.ts HOST PORT COUNT CONCURRENCY HOLD_SECONDS
import tls from 'node:tls';

const [host = '', portText = '443', countText = '1000', concurrencyText = '50', holdText = '60'] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
const concurrency = Number(concurrencyText);
const holdMs = Number(holdText) * 1000;
const request = `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\n`;
const open: tls.TLSSocket[] = [];
let failed = 0;
let firstError = '';

/** Resolves true once one complete response has arrived on a fresh connection. */
function openOne(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host, port, servername: host, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => finish(false, 'timeout'), 15_000);
    function finish(ok: boolean, why = ''): void {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      if (ok) {
        open.push(socket);
        // Stays open; an error or close later just drops it from the count at the end.
        socket.on('error', () => undefined);
      } else {
        if (firstError === '') firstError = why;
        socket.destroy();
      }
      resolve(ok);
    }
    socket.on('secureConnect', () => socket.write(request));
    socket.on('error', (err) => finish(false, err.message));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffered.subarray(0, end).toString('latin1');
      if (!/^HTTP\/1\.1 200 /.test(head)) return finish(false, head.split('\r\n')[0] ?? 'bad response');
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (length?.[1] === undefined) return finish(false, 'no content-length');
      if (buffered.length >= end + 4 + Number(length[1])) finish(true);
    });
  });
}

const started = Date.now();
let next = 0;
async function worker(): Promise<void> {
  while (next < count) {
    next++;
    if (!(await openOne())) failed++;
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, count) }, () => worker()));
process.stdout.write(`${JSON.stringify({ opened: open.length, failed, firstError, ms: Date.now() - started })}\n`);

function closeAll(): void {
  const stillOpen = open.filter((s) => !s.destroyed).length;
  process.stdout.write(`${JSON.stringify({ stillOpen })}\n`);
  for (const socket of open) socket.destroy();
  process.exit(0);
}
setTimeout(closeAll, holdMs).unref();
process.stdin.on('end', closeAll).on('close', closeAll).resume();
