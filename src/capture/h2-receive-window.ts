// How much request body an agent may send over h2 before sluice says "more" (WINDOW_UPDATE).
// Node leaves both HTTP/2 receive windows at the protocol's 65,535 bytes, so an upload stalls
// every 64 KiB until sluice's WINDOW_UPDATE reaches the client: a 100 MiB curl upload (curl
// speaks h2 when offered) went at 24–39 MB/s through sluice where the same upload over
// HTTP/1.1 went at 135–173 MB/s, with sluice mostly idle (the bench: 115 MB/s, squid over
// HTTP/1.1 359 MB/s). A bare Node h2 server forwarding with undici shows the same (37–44 MB/s),
// so the limit is the window, not sluice's body path. Both windows must grow: either alone
// changed nothing. Figures: README, Benchmarks.
//
// Memory: Node gives the connection window back as soon as bytes arrive, whatever the stream
// does with them, so it bounds nothing. A stream's window is given back only as its body is
// read: when the upstream reads slower than the agent sends, sluice holds up to one stream
// window of body per stream (back-pressure then stops the agent), i.e. at most
// H2_MAX_CONCURRENT_STREAMS × H2_STREAM_WINDOW_BYTES per connection (100 MiB here, 6.4 MiB
// with Node's default), held only while an upstream stalls. Measured: 100 uploads to an
// upstream that reads nothing, on one connection, raised sluice's RSS by 59 MiB with Node's
// windows and by 110–125 MiB with these; the kernel's socket buffers towards that upstream
// held ~4.4 MiB per upload either way (the agent got ~450 MiB out before it stopped).
import type http2 from 'node:http2';

/** SETTINGS_INITIAL_WINDOW_SIZE sluice advertises: each request stream's receive window. */
export const H2_STREAM_WINDOW_BYTES = 1024 * 1024;

/**
 * The connection-level receive window. Larger than one stream's window so that the connection
 * never throttles a single upload before its stream window does.
 */
export const H2_CONNECTION_WINDOW_BYTES = 8 * 1024 * 1024;

/** For http2.createSecureServer's `settings`: the stream window, advertised in the first SETTINGS. */
export const H2_RECEIVE_SETTINGS = { initialWindowSize: H2_STREAM_WINDOW_BYTES } as const satisfies http2.Settings;

/**
 * Opens a new session's connection window (a WINDOW_UPDATE on stream 0 right after the
 * preface); call it on the server's 'session' event.
 */
export function openConnectionWindow(session: http2.ServerHttp2Session): void {
  if (session.destroyed) return;
  session.setLocalWindowSize(H2_CONNECTION_WINDOW_BYTES);
}
