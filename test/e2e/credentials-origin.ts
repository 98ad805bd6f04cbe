// The credential origins of the end-to-end suite, run as one process inside the fake internet's
// namespace (credentials-internet.ts starts it). Like the real services, each one demands the
// REAL secret and refuses anything else, so a client only succeeds if sluice swapped its
// surrogate:
//   api.anthropic.com   POST /v1/messages (JSON, or SSE when "stream": true), x-api-key or Bearer
//   api.openai.com      POST /v1/chat/completions (JSON, or SSE when "stream": true), Bearer
//   /org/… on git.fake.test and elsewhere.fake.test
//                       a real `git http-backend` behind test/helpers/git-cgi.ts (Basic auth)
//   anything else       a JSON echo of what arrived (elsewhere: a host no surrogate may reach)
// The LLM answers echo the key they received in the text (and in a header), as APIs that echo
// a key in an error or an introspection call do: the agent must get its surrogate back instead.
// In streams the echoed key is split across two writes. Every request (host, SNI, method, URL,
// headers, body) is appended to a JSON-lines record file.
// Usage: node credentials-origin.ts CONFIG.json   (prints "ready" once every listener is bound)
import { appendFileSync, readFileSync } from 'node:fs';
import https from 'node:https';
import type http from 'node:http';
import type tls from 'node:tls';
import { serveGit } from '../helpers/git-cgi.ts';

export interface CredentialOriginConfig {
  record: string;
  addresses: string[];
  cert: { cert: string; key: string };
  gitRoot: string;
  /** Names served by git http-backend. */
  gitHosts: string[];
  /** What each service demands. */
  real: { anthropic: string; openai: string; github: string };
}

export interface CredentialOriginRecord {
  host: string;
  sni: string | undefined;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const config = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as CredentialOriginConfig;
const record = (entry: CredentialOriginRecord): void => appendFileSync(config.record, `${JSON.stringify(entry)}\n`);
const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function json(res: http.ServerResponse, status: number, value: unknown, extra: http.OutgoingHttpHeaders = {}): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length, ...extra });
  res.end(body);
}

/** Writes SSE events; the event holding `split` is cut in the middle of it, over two writes. */
async function sse(res: http.ServerResponse, events: string[], split: string, extra: http.OutgoingHttpHeaders): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...extra });
  for (const event of events) {
    const at = event.indexOf(split);
    if (at >= 0 && split.length > 1) {
      const cut = at + Math.floor(split.length / 2);
      res.write(event.slice(0, cut));
      await wait(20);
      res.write(event.slice(cut));
    } else {
      res.write(event);
    }
    await wait(5);
  }
  res.end();
}

async function anthropic(req: http.IncomingMessage, res: http.ServerResponse, body: string): Promise<void> {
  // x-api-key, or Authorization: Bearer (SDK versions differ in where they put the key).
  const key = String(req.headers['x-api-key'] ?? String(req.headers.authorization ?? '').replace(/^Bearer\s+/i, ''));
  if (key !== config.real.anthropic) {
    json(res, 401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' }, request_id: 'req_e2e' });
    return;
  }
  const request = JSON.parse(body || '{}') as { model?: string; stream?: boolean };
  const model = request.model ?? 'claude-test';
  const text = `you sent ${key}`;
  const headers = { 'request-id': 'req_e2e', 'x-e2e-key-seen': key };
  if (request.stream !== true) {
    json(res, 200, {
      id: 'msg_e2e', type: 'message', role: 'assistant', model, stop_reason: 'end_turn', stop_sequence: null,
      content: [{ type: 'text', text }], usage: { input_tokens: 3, output_tokens: 4 },
    }, headers);
    return;
  }
  const event = (name: string, data: unknown): string => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
  await sse(res, [
    event('message_start', { type: 'message_start', message: { id: 'msg_e2e', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 3, output_tokens: 1 } } }),
    event('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    event('ping', { type: 'ping' }),
    event('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'you sent ' } }),
    event('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: key } }),
    event('content_block_stop', { type: 'content_block_stop', index: 0 }),
    event('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 4 } }),
    event('message_stop', { type: 'message_stop' }),
  ], key, headers);
}

async function openai(req: http.IncomingMessage, res: http.ServerResponse, body: string): Promise<void> {
  const auth = String(req.headers.authorization ?? '');
  const key = auth.replace(/^Bearer\s+/i, '');
  if (auth !== `Bearer ${config.real.openai}`) {
    json(res, 401, { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
    return;
  }
  const request = JSON.parse(body || '{}') as { model?: string; stream?: boolean };
  const model = request.model ?? 'gpt-test';
  const headers = { 'x-request-id': 'req_e2e', 'x-e2e-key-seen': key };
  if (request.stream !== true) {
    json(res, 200, {
      id: 'chatcmpl-e2e', object: 'chat.completion', created: 1, model,
      choices: [{ index: 0, finish_reason: 'stop', logprobs: null, message: { role: 'assistant', content: `you sent ${key}`, refusal: null } }],
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    }, headers);
    return;
  }
  const chunk = (choices: unknown[], usage: unknown = null): string =>
    `data: ${JSON.stringify({ id: 'chatcmpl-e2e', object: 'chat.completion.chunk', created: 1, model, choices, usage })}\n\n`;
  const delta = (d: unknown, finish: string | null = null): unknown => ({ index: 0, delta: d, logprobs: null, finish_reason: finish });
  await sse(res, [
    chunk([delta({ role: 'assistant', content: '', refusal: null })]),
    chunk([delta({ content: 'you sent ' })]),
    chunk([delta({ content: key })]),
    chunk([delta({}, 'stop')]),
    chunk([], { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 }),
    'data: [DONE]\n\n',
  ], key, headers);
}

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const host = (req.headers.host ?? '').replace(/:\d+$/, '');
  const sni = (req.socket as tls.TLSSocket).servername || undefined;
  const entry = { host, sni, method: req.method ?? '', url: req.url ?? '/', headers: req.headers };
  if (config.gitHosts.includes(host) && entry.url.startsWith('/org/')) {
    record({ ...entry, body: '' }); // git's pack negotiation is binary: not recorded
    serveGit(config.gitRoot, config.real.github, req, res);
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    record({ ...entry, body });
    const path = (req.url ?? '/').split('?')[0];
    let answer: Promise<void> | undefined;
    if (host === 'api.anthropic.com' && path === '/v1/messages') answer = anthropic(req, res, body);
    else if (host === 'api.openai.com' && path === '/v1/chat/completions') answer = openai(req, res, body);
    else json(res, 200, { origin: 'credentials', host, path, headers: req.headers });
    answer?.catch(() => res.destroy());
  });
}

const tlsOptions = { cert: readFileSync(config.cert.cert), key: readFileSync(config.cert.key) };
await Promise.all(config.addresses.map((address) => new Promise<void>((resolve, reject) => {
  const server = https.createServer(tlsOptions, handle);
  server.once('error', reject);
  server.listen({ host: address, port: 443 }, () => resolve());
})));
process.stdout.write('ready\n');
