// Whether the client of a request has gone: its HTTP/1 response (socket) is destroyed or
// closed, or its h2 stream is. Node's h2 compatibility response (Http2ServerResponse) has no
// `destroyed` or `closed` of its own, so reading those there always said "still here".
import type http from 'node:http';
import type http2 from 'node:http2';

export function clientGone(res: http.ServerResponse | http2.Http2ServerResponse): boolean {
  if ('stream' in res) return res.stream.destroyed || res.stream.closed;
  return res.destroyed || res.closed;
}
