// clientGone on real servers: an h2 stream the client reset, and an HTTP/1 client that closed
// its connection, both read as gone; a client still waiting does not.
import { describe, expect, it } from 'vitest';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { clientGone } from '../../src/http/client-gone.ts';

describe('clientGone', () => {
  it('h2: false while the stream is open, true once the client reset it', async () => {
    const server = http2.createServer();
    const seen: boolean[] = [];
    const closed = new Promise<void>((resolve) => {
      server.on('request', (_req, res) => {
        seen.push(clientGone(res));
        res.stream.once('close', () => {
          seen.push(clientGone(res));
          resolve();
        });
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const stream = session.request({ ':path': '/' }, { endStream: false });
      stream.on('error', () => undefined);
      await once(server, 'request');
      stream.close(http2.constants.NGHTTP2_CANCEL);
      await closed;
      expect(seen).toEqual([false, true]);
    } finally {
      session.destroy();
      server.close();
    }
  });

  it('HTTP/1: false while the client waits, true once it closed the connection', async () => {
    const seen: boolean[] = [];
    let done: () => void = () => undefined;
    const closed = new Promise<void>((resolve) => {
      done = resolve;
    });
    const server = http.createServer((_req, res) => {
      seen.push(clientGone(res));
      res.once('close', () => {
        seen.push(clientGone(res));
        done();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
    try {
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await once(server, 'request');
      socket.destroy();
      await closed;
      expect(seen).toEqual([false, true]);
    } finally {
      server.close();
    }
  });
});
