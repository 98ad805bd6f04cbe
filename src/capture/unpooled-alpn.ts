// Each TLSSocket a TLS server accepts gets a private copy of the server's ALPN list (Node's
// _tls_wrap: convertALPNProtocols on `server.ALPNProtocols`), kept for the connection's life.
// Copied from a Buffer, the few bytes are carved from Node's shared 64 KiB Buffer pool, and then
// keep alive the whole slab, which the requests' own short-lived buffers filled in between:
// at 300 idle connections, 1.75 KiB of slab per connection (heap snapshot, bench/idle-memory).
// Copied from any other ArrayBufferView, Node gives each copy an ArrayBuffer of its own
// (~0.2 KiB with its view). Same protocols, same order, same negotiation.
import type tls from 'node:tls';

type WithAlpn = { ALPNProtocols?: unknown };

/** Makes the per-connection ALPN copies of `server` unpooled; false if Node's layout differs. */
export function unpoolAlpnCopies(server: tls.Server): boolean {
  const s = server as unknown as WithAlpn;
  const list = s.ALPNProtocols;
  if (!(list instanceof Uint8Array)) return false;
  const own = list.buffer.slice(list.byteOffset, list.byteOffset + list.byteLength);
  s.ALPNProtocols = new DataView(own);
  return true;
}
