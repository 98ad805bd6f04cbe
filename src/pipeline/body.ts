// Extension points for steps that need to see or change bodies (credentials, LLM audit).
// A step registers them on the exchange; the forwarder applies them while streaming, so no
// body is ever buffered whole unless a transform chooses to hold bytes back.
import type { SluiceError } from '../errors/codes.ts';

/**
 * Rewrites (or inspects) the request body chunk by chunk. A transform may hold bytes back
 * (to match across chunk boundaries) and release them on a later push or at end. Returning a
 * SluiceError stops the request: nothing more is sent upstream and the agent gets the error.
 */
export interface RequestBodyTransform {
  readonly name: string;
  /** True if output length may differ from input length (content-length is then dropped). */
  readonly changesLength: boolean;
  push(chunk: Buffer): Buffer | SluiceError;
  end(): Buffer | SluiceError;
}

/** Filters one stream of payload bytes; may hold bytes back until a later push or `end`. */
export interface PayloadFilter {
  push(chunk: Buffer): Buffer;
  end(): Buffer;
}

export type ResponseHeaders = Record<string, string | string[] | undefined>;

/**
 * Sees the response on its way to the agent. `start` may edit headers in place; `data` returns
 * the bytes to pass on (the same buffer to leave them unchanged); `end` returns any bytes it
 * still held back. `done` is called exactly once, with how the exchange ended.
 */
export interface ResponseHook {
  readonly name: string;
  /** True if this hook must see decoded bytes (the agent then receives the decoded body). */
  readonly needsPlaintext: boolean;
  start?(status: number, headers: ResponseHeaders): void;
  /** May edit the response trailers in place (gRPC's grpc-status and grpc-message live there). */
  trailers?(trailers: ResponseHeaders): void;
  /** Rewrites the HTTP/1 reason phrase (an upstream may echo anything there). */
  reason?(text: string): string;
  /**
   * A fresh filter for the payload of one WebSocket message (or control frame) the server sends
   * after a 101. A hook that must see every byte from the upstream implements it; without any
   * such hook the relay passes frames through unchanged.
   */
  message?(): PayloadFilter;
  data?(chunk: Buffer): Buffer;
  end?(): Buffer | undefined;
  /**
   * Asked after `end`: a reason to cut the response (reset it) instead of ending it, when the
   * hook withheld bytes and nothing in the response (trailers, an in-band frame) says so.
   */
  cutReason?(): string | undefined;
  done?(outcome: 'complete' | 'cut_off' | 'client_aborted' | 'error', status: number): void;
}
