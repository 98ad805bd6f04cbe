import net from 'node:net';

/** Ports this process has handed out: the kernel may offer a port again as soon as it is closed. */
const handedOut = new Set<number>();

async function portFreeNow(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A TCP port that was free on 127.0.0.1 a moment ago, and never one this process was given
 * before: two calls in a row once returned the same port, and nginx, given it for both its
 * listeners, refused to start ("a duplicate listen").
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await portFreeNow();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('freePort: 100 ports in a row were ones this process had already been given');
}
