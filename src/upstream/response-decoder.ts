// Decodes a compressed response body for steps that must see plaintext (the credential scrub
// on credential hosts: an echoed secret must not hide inside gzip). Streaming, bounded by the
// same back-pressure as the body itself.
import zlib from 'node:zlib';
import { PassThrough, type Transform } from 'node:stream';

/** A decoder for a Content-Encoding value, or undefined when sluice cannot decode it. */
export function createResponseDecoder(contentEncoding: string): Transform | undefined {
  const codings = contentEncoding.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '' && s !== 'identity');
  if (codings.length === 0) return new PassThrough();
  // Stacked codings are legal but unseen in practice; refuse rather than guess.
  if (codings.length > 1) return undefined;
  switch (codings[0]) {
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    case 'zstd':
      return zlib.createZstdDecompress();
    default:
      return undefined;
  }
}
