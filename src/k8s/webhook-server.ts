// The mutating admission webhook over HTTPS (DESIGN.md §7): POST /mutate answers an
// AdmissionReview v1, /healthz and /readyz answer 200. The serving certificate is re-read when
// its files change (cert-manager renews it in place), without a restart.
import https from 'node:https';
import type http from 'node:http';
import { readFileSync, statSync } from 'node:fs';
import { answerAdmissionReview, type AdmissionLog } from './admission.ts';
import type { InjectOptions } from './inject-pod.ts';

/** An AdmissionReview holds one pod; the API server's own request limit is 3 MiB. */
export const MAX_REVIEW_BYTES = 4 * 1024 * 1024;
const CERT_CHECK_MS = 30_000;

export interface WebhookServerOptions {
  certFile: string;
  keyFile: string;
  inject: InjectOptions;
  onDecision?: (entry: AdmissionLog) => void;
  onError?: (message: string) => void;
}

export interface WebhookServer {
  server: https.Server;
  close(): Promise<void>;
}

function readPair(certFile: string, keyFile: string): { cert: Buffer; key: Buffer; stamp: string } {
  const stamp = [certFile, keyFile].map((f) => { const s = statSync(f); return `${s.ino}:${s.mtimeMs}:${s.size}`; }).join('|');
  return { cert: readFileSync(certFile), key: readFileSync(keyFile), stamp };
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function createWebhookServer(o: WebhookServerOptions): WebhookServer {
  let pair = readPair(o.certFile, o.keyFile);
  const server = https.createServer({ cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2' });
  // The API server waits timeoutSeconds (at most 30 s); nothing here should take longer.
  server.requestTimeout = 15_000;
  server.headersTimeout = 10_000;
  const timer = setInterval(() => {
    try {
      const next = readPair(o.certFile, o.keyFile);
      if (next.stamp === pair.stamp) return;
      server.setSecureContext({ cert: next.cert, key: next.key });
      pair = next;
    } catch (err) {
      o.onError?.(`cannot reload the serving certificate: ${(err as Error).message}`);
    }
  }, CERT_CHECK_MS);
  timer.unref();

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' || path === '/readyz') return send(res, 200, 'ok\n');
    if (path !== '/mutate') return send(res, 404, 'not found\n');
    if (req.method !== 'POST') return send(res, 405, 'POST an AdmissionReview to /mutate\n');
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REVIEW_BYTES) over = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (over) return send(res, 413, `malformed AdmissionReview: larger than ${MAX_REVIEW_BYTES} bytes\n`);
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (err) {
        return send(res, 400, `malformed AdmissionReview: not JSON (${(err as Error).message.split('\n')[0] ?? ''})\n`);
      }
      try {
        const answer = answerAdmissionReview(body, o.inject, o.onDecision);
        send(res, answer.status, answer.body);
      } catch (err) {
        o.onError?.(`mutate failed: ${(err as Error).message}`);
        send(res, 500, 'internal error\n');
      }
    });
    req.on('error', () => res.destroy());
  });

  return {
    server,
    close: () => new Promise<void>((resolve) => {
      clearInterval(timer);
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
