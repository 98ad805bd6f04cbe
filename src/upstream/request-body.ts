// Runs the request body through the steps' transforms on its way upstream, as a stream.
import { Transform, type Readable } from 'node:stream';
import type { RequestBodyTransform } from '../pipeline/body.ts';
import { SluiceError } from '../errors/codes.ts';
import { noteRelayed } from './relay-gc.ts';

const EMPTY = Buffer.alloc(0);

/** Feeds `input` through transforms `from`.. in order; returns their combined output or an error. */
function pushFrom(transforms: readonly RequestBodyTransform[], from: number, input: Buffer): Buffer | SluiceError {
  let data = input;
  for (let i = from; i < transforms.length; i++) {
    const t = transforms[i] as RequestBodyTransform;
    const r = t.push(data);
    if (r instanceof SluiceError) return r;
    data = r;
  }
  return data;
}

/** Ends the transforms in order; what one releases at its end still passes through the later ones. */
function endAll(transforms: readonly RequestBodyTransform[]): Buffer | SluiceError {
  const parts: Buffer[] = [];
  for (let i = 0; i < transforms.length; i++) {
    const released = (transforms[i] as RequestBodyTransform).end();
    if (released instanceof SluiceError) return released;
    if (released.length === 0) continue;
    const rest = pushFrom(transforms, i + 1, released);
    if (rest instanceof SluiceError) return rest;
    parts.push(rest);
  }
  return parts.length === 0 ? EMPTY : Buffer.concat(parts);
}

/**
 * The request body as undici reads it: counted (`onBytes`, the bytes the agent sent) and run
 * through the transforms. Counting here, not with a 'data' listener on the request, matters: a
 * listener would start the stream flowing before undici reads it, and lose what was buffered.
 */
export function transformRequestBody(source: Readable, transforms: readonly RequestBodyTransform[], onBytes?: (n: number) => void): Readable {
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      onBytes?.(chunk.length);
      noteRelayed(chunk.length);
      if (transforms.length === 0) {
        callback(null, chunk);
        return;
      }
      const out = pushFrom(transforms, 0, chunk);
      if (out instanceof SluiceError) callback(out);
      else callback(null, out.length > 0 ? out : undefined);
    },
    flush(callback) {
      if (transforms.length === 0) {
        callback();
        return;
      }
      const out = endAll(transforms);
      if (out instanceof SluiceError) callback(out);
      else callback(null, out.length > 0 ? out : undefined);
    },
  });
  source.on('error', (err) => stream.destroy(err));
  return source.pipe(stream);
}
