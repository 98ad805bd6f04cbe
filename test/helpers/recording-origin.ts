// An HTTPS origin that records every request it receives (host, method, URL, headers, body) and
// can echo what it got: the credential tests assert what reached the upstream and what came
// back to the agent. Routes:
//   /echo            JSON {headers, body} of the request; ?gzip=1 compresses it; header x-echo-auth
//   /sse             an event stream that echoes x-api-key, split mid-value over two writes
//   /v1/messages     an Anthropic Messages answer whose text echoes x-api-key (or the bearer token)
//   /v1/chat/completions  an OpenAI answer whose text echoes the bearer token
//   host git.test    a real git http-backend demanding Basic auth with `gitPassword`
import https from 'node:https';
import type http from 'node:http';
import type net from 'node:net';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { serveGit } from './git-cgi.ts';

export interface RecordedRequest {
  host: string;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body did not arrive whole. */
  aborted: boolean;
}

export interface RecordingOrigin {
  address: string;
  port: number;
  requests: RecordedRequest[];
  stop(): Promise<void>;
}

function json(res: http.ServerResponse, status: number, value: unknown, gzip = false): void {
  let body: Buffer = Buffer.from(JSON.stringify(value));
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
  if (gzip) {
    body = gzipSync(body);
    headers['content-encoding'] = 'gzip';
  }
  headers['content-length'] = body.length;
  res.writeHead(status, headers);
  res.end(body);
}

export async function startRecordingOrigin(options: { cert: string; key: string; address: string; gitRoot: string; gitPassword: string }): Promise<RecordingOrigin> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<net.Socket>();
  const server = https.createServer({ cert: readFileSync(options.cert), key: readFileSync(options.key) }, (req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    const url = new URL(req.url ?? '/', 'https://origin');
    if (host === 'git.test') {
      requests.push({ host, method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '', aborted: false });
      serveGit(options.gitRoot, options.gitPassword, req, res);
      return;
    }
    const chunks: Buffer[] = [];
    let ended = false;
    req.on('data', (c: Buffer) => chunks.push(c));
    // A request whose body was cut off is recorded too, with what arrived.
    req.on('close', () => {
      if (!ended) requests.push({ host, method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), aborted: true });
    });
    req.on('end', () => {
      ended = true;
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ host, method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, aborted: false });
      const apiKey = String(req.headers['x-api-key'] ?? '');
      const bearer = String(req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
      switch (url.pathname) {
        case '/echo':
          res.setHeader('x-echo-auth', `${apiKey}|${bearer}`);
          json(res, 200, { headers: req.headers, body }, url.searchParams.get('gzip') === '1');
          return;
        case '/sse': {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
          const half = Math.floor(apiKey.length / 2);
          res.write(`event: a\ndata: {"key":"${apiKey.slice(0, half)}`);
          setTimeout(() => res.end(`${apiKey.slice(half)}"}\n\n`), 100);
          return;
        }
        case '/v1/messages':
          json(res, 200, {
            id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-test', stop_reason: 'end_turn', stop_sequence: null,
            content: [{ type: 'text', text: `you sent ${apiKey || bearer}` }],
            usage: { input_tokens: 3, output_tokens: 4 },
          });
          return;
        case '/v1/chat/completions':
          json(res, 200, {
            id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-test',
            choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `you sent ${bearer}` } }],
            usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
          });
          return;
        default:
          json(res, 200, { ok: true, path: url.pathname });
      }
    });
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.address, () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    address: options.address,
    port,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
