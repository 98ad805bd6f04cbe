// The state of one HTTP request on its way through sluice. Steps read and amend it; the
// forwarder sends what it describes; the access log records it.
import type { AllowRule } from '../config/types.ts';
import type { ResolvedHost } from '../upstream/resolve.ts';
import type { Runtime } from '../runtime/runtime.ts';
import type { RequestBodyTransform, ResponseHook } from './body.ts';
import type { SluiceError } from '../errors/codes.ts';
import type { HeaderMap } from '../http/header-map.ts';
import type { TraceEntry } from './trace.ts';

/** What sluice knows about a captured client connection. */
export interface ConnectionInfo {
  /** Short id shared by every log line of this connection. */
  readonly id: string;
  readonly listener: 'tls' | 'http';
  /** The server name exactly as the client sent it (TLS only). */
  readonly sni: string | undefined;
  /** The normalised SNI: the only destination a TLS connection may address. */
  readonly host: string | undefined;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The port sluice dials upstream, fixed by the listener the connection arrived on. */
  readonly upstreamPort: number;
}

export interface Exchange {
  readonly conn: ConnectionInfo;
  /** The configuration in force when the request arrived (a reload does not change it mid-way). */
  readonly runtime: Runtime;
  readonly startedAt: number;
  readonly method: string;
  /** Origin-form target, path and query, as received. */
  path: string;
  /** Normalised destination name (from Host / :authority). */
  host: string;
  /** The Host header value to send upstream. */
  authority: string;
  /** Request headers to forward, lower-case names; steps may change them. */
  headers: HeaderMap;
  /** Whether the client sends a body. */
  readonly hasBody: boolean;
  /** An HTTP/1.1 upgrade (WebSocket): a session, not one request. */
  readonly upgrade?: boolean;
  rule: AllowRule | undefined;
  resolved: ResolvedHost | undefined;
  /**
   * What the allowlist would have refused in learn or report mode (DESIGN §8): the request is
   * logged with decision "would_deny" and this reason, and in learn mode forwarded anyway.
   */
  wouldDeny?: SluiceError;
  /** Name of the credential swapped in, if any (never its value). */
  credential: string | undefined;
  /** What each step did, by name and place, never values: written to the access log. */
  readonly trace: TraceEntry[];
  /** Request body transforms, applied in order on the way upstream. */
  readonly requestBody: RequestBodyTransform[];
  /** Response hooks, applied in order on the way to the agent. */
  readonly response: ResponseHook[];
  /**
   * Reads the whole request body, at most `maxBytes` (413 body_too_large beyond), and makes the
   * forwarder send exactly those bytes. Only for signatures over sha256(body) (sigv4 step).
   */
  bufferBody?(maxBytes: number): Promise<Buffer | SluiceError>;
  /** What bufferBody read, if it was called: sent upstream instead of the client's stream. */
  bufferedBody?: Buffer;
}
