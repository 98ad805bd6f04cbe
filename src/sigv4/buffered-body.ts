// The one place sluice holds a request body whole (DESIGN.md §1, "Bodies stream"): a SigV4
// request without x-amz-content-sha256 (STS, DynamoDB, Bedrock …) signs sha256(body), and the
// signature must be verified before anything is forwarded. Capped by
// [upstream] max_buffered_body_bytes; over it: 413 body_too_large, read no further.
import type { Readable } from 'node:stream';
import { SluiceError } from '../errors/codes.ts';

function tooLarge(max: number): SluiceError {
  return new SluiceError('body_too_large', 413, `the request body exceeds ${max} bytes, the most sluice buffers to check a SigV4 signature over it (set [upstream] max_buffered_body_bytes)`);
}

/**
 * Reads `stream` to its end into one Buffer, or refuses once it passes `maxBytes`. A declared
 * Content-Length over the cap is refused before reading anything.
 */
export function readBodyCapped(stream: Readable, maxBytes: number, declaredLength?: number): Promise<Buffer | SluiceError> {
  if (declaredLength !== undefined && declaredLength > maxBytes) return Promise.resolve(tooLarge(maxBytes));
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let total = 0;
    const cleanup = (): void => {
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', onError);
      stream.removeListener('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > maxBytes) {
        cleanup();
        stream.pause();
        resolve(tooLarge(maxBytes));
        return;
      }
      parts.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(parts, total));
    };
    const onError = (err: Error): void => {
      cleanup();
      resolve(new SluiceError('bad_request', 400, `the request body could not be read: ${err.message}`, { cause: err }));
    };
    const onClose = (): void => {
      cleanup();
      resolve(new SluiceError('bad_request', 400, 'the client closed the connection before the request body ended'));
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.once('close', onClose);
  });
}

/**
 * What the sigv4 step needs from the exchange for such bodies: read the whole body (capped) and
 * have the forwarder send exactly those bytes. See the report to the lead for the wiring.
 */
export interface BodyBuffering {
  bufferBody(maxBytes: number): Promise<Buffer | SluiceError>;
}
