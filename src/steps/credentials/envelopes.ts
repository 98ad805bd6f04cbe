// Responses whose body is a stream of length-prefixed messages (gRPC, gRPC-Web, Connect's
// streams), on a credential host: which framing a content type names, where its compression is
// named, and how a call ends when a message could not be inspected (grpc-inflate.ts stopped):
// with an error the agent's client reads as one, never as a clean end. The agent sees one
// fixed text; the reason goes to the access log only.
import type { ResponseHeaders } from '../../pipeline/body.ts';
import { grpcFrameHeader } from '../../credentials/grpc-frames.ts';
import { createGrpcInflater, uninspectable, type GrpcInflater } from '../../upstream/grpc-inflate.ts';

/** What the agent's client is told (grpc-message, Connect's error message). */
const PUBLIC_REASON = 'sluice cut this response: a message it could not inspect for secrets (the reason is in its access log)';

type Framing = 'grpc' | 'grpc-web' | 'connect';

export interface Envelopes {
  /** The body's next bytes, compressed messages inflated; nothing once it has failed. */
  push(chunk: Buffer): Buffer;
  /** At the body's end: bytes that end a failed call in-band (gRPC-Web, Connect), else empty. */
  end(): Buffer;
  /** Sets the error status in trailers (gRPC) once it has failed; safe to call before that. */
  mark(trailers: ResponseHeaders): void;
  readonly failure: string | undefined;
  /** The framing carries its own ending (gRPC-Web's trailer frame, Connect's end of stream). */
  readonly endsInBand: boolean;
}

const encodingHeaderOf = (framing: Framing | 'grpc-web-text'): string => (framing === 'connect' ? 'connect-content-encoding' : 'grpc-encoding');

function isCompressed(headers: ResponseHeaders, name: string): boolean {
  const value = headers[name];
  return value !== undefined && String(value).trim().toLowerCase() !== 'identity';
}

/**
 * The framing, from the content type; or, where the content type names none, from an encoding
 * header, since a gRPC client inflates a flagged message whatever the content type says.
 */
function framingOf(headers: ResponseHeaders): Framing | 'grpc-web-text' | undefined {
  const type = String(headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith('application/grpc-web-text')) return 'grpc-web-text';
  if (type.startsWith('application/grpc-web')) return 'grpc-web';
  if (type.startsWith('application/grpc')) return 'grpc';
  if (type.startsWith('application/connect+')) return 'connect';
  if (isCompressed(headers, 'connect-content-encoding')) return 'connect';
  if (isCompressed(headers, 'grpc-encoding')) return 'grpc';
  return undefined;
}

/** True when the body is length-prefixed messages: replacements must keep each length. */
export function isEnveloped(headers: ResponseHeaders): boolean {
  return framingOf(headers) !== undefined;
}

function frame(flag: number, body: Buffer): Buffer {
  return Buffer.concat([grpcFrameHeader(flag, body.length), body]);
}

/**
 * The envelope handling for a response, or undefined when its body is not enveloped or needs
 * none. `bodySwapHost`: a credential is swapped into request bodies on this host, so the agent
 * wrote the bytes around any real value in an echo: nothing there reads those bytes as frames
 * (where a walk failed would tell the agent about the value), and a compressed response is
 * refused whole, on its headers alone. Deletes a `content-length` that inflating makes false
 * (and that would tell the agent how well a real value compressed).
 */
export function envelopesFor(headers: ResponseHeaders, options: { bodySwapHost: boolean; owner: object }): Envelopes | undefined {
  const framing = framingOf(headers);
  if (framing === undefined) return undefined;
  const encodingHeader = encodingHeaderOf(framing);
  const compressed = isCompressed(headers, encodingHeader);
  if (!compressed && (options.bodySwapHost || framing === 'grpc-web-text')) {
    // Uncompressed: nothing to inflate; gRPC-Web text is read by the scrub as base64 text.
    return undefined;
  }
  if (compressed) delete headers['content-length'];
  const raw = headers[encodingHeader];
  let inflater: GrpcInflater;
  if (options.bodySwapHost) inflater = uninspectable('a compressed response on a host where a credential is swapped into request bodies');
  else if (framing === 'grpc-web-text') inflater = uninspectable('a gRPC-Web text response with a compressed encoding');
  else {
    inflater = createGrpcInflater(raw === undefined ? undefined : String(raw), {
      extraFlag: framing === 'grpc-web' ? 0x80 : framing === 'connect' ? 0x02 : 0,
      owner: options.owner,
    });
  }
  return {
    get failure() {
      return inflater.failure;
    },
    endsInBand: framing === 'grpc-web' || framing === 'connect',
    push: (chunk) => inflater.push(chunk),
    end() {
      inflater.end();
      if (inflater.failure === undefined) return Buffer.alloc(0);
      if (framing === 'grpc-web') return frame(0x80, Buffer.from(`grpc-status:13\r\ngrpc-message:${encodeURIComponent(PUBLIC_REASON)}\r\n`));
      if (framing === 'connect') return frame(0x02, Buffer.from(JSON.stringify({ error: { code: 'internal', message: PUBLIC_REASON } })));
      return Buffer.alloc(0);
    },
    mark(trailers) {
      if (inflater.failure === undefined) return;
      trailers['grpc-status'] = '13';
      trailers['grpc-message'] = encodeURIComponent(PUBLIC_REASON);
    },
  };
}
