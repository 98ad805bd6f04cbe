// The floor under any Node TLS-terminating proxy, run as the optional "tls-pipe" bench peer:
// a TLS server (the origin's own certificate) that opens one verified TLS connection to the
// origin per client connection and pipes the decrypted bytes both ways. No HTTP at all: what
// it costs is Node's TLS, stream plumbing and system calls, which no Node proxy can avoid.
// Between it and node-floor (Node's HTTP server and undici on top) lies the cost of HTTP in
// Node; between node-floor and sluice, sluice's own (README, Benchmarks).
//
// usage: node tls-pipe-server.ts DIR PORT ORIGIN_ADDR ORIGIN_NAME [--compile-only]
//   --compile-only: load every module and exit (fills NODE_COMPILE_CACHE; peer-process.ts)
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir = '.', portText = '15443', originAddr = '127.0.0.1', originName = 'localhost', mode] = process.argv.slice(2);
if (mode === '--compile-only') process.exit(0);
const ca = readFileSync(join(dir, 'test-ca.crt'));

const server = tls.createServer({ cert: readFileSync(join(dir, 'origin.crt')), key: readFileSync(join(dir, 'origin.key')) }, (client) => {
  const origin = tls.connect({ host: originAddr, port: 443, servername: originName, ca });
  client.setNoDelay(true);
  origin.setNoDelay(true);
  // pipe() carries back-pressure each way; either side ending or failing ends both.
  client.pipe(origin);
  origin.pipe(client);
  const close = (): void => {
    client.destroy();
    origin.destroy();
  };
  for (const socket of [client, origin]) {
    socket.on('error', close);
    socket.on('close', close);
  }
});
server.on('tlsClientError', () => {});
server.listen(Number(portText), () => process.stderr.write(`tls-pipe: listening on ${portText}\n`));
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
