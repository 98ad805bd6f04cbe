// Client-side limits (DESIGN.md §1): headers within 30 s (slowloris), idle keep-alive closes
// after 60 s, header size and count capped (431), and a client's half-close after its request
// does not drop the response (Node ends the socket on FIN unless httpAllowHalfOpen is set).
import type http from 'node:http';
import type { ClientLimits } from '../config/types.ts';

type Tunable = http.Server & { httpAllowHalfOpen?: boolean; maxHeaderSize?: number };

export function applyClientLimits(server: http.Server, limits: ClientLimits): void {
  const s = server as Tunable;
  s.headersTimeout = limits.headersTimeoutMs;
  s.requestTimeout = 0; // bodies may be long uploads; the headers timeout guards slowloris
  s.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // Node silently drops fields beyond maxHeadersCount; keep one more than the limit so that
  // the request-target check can see the excess and answer 431.
  s.maxHeadersCount = limits.maxHeaderCount + 1;
  s.maxHeaderSize = limits.maxHeaderBytes;
  s.httpAllowHalfOpen = true;
}
