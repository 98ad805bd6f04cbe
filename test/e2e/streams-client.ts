// An agent's gRPC or WebSocket program, unmodified, run by Node as the agent's uid inside the
// sandbox. The bearer token comes from STREAMS_API_TOKEN, which holds a surrogate. Trust is
// whatever the runtime reads from its environment: grpc-js's createSsl() without roots uses
// GRPC_DEFAULT_SSL_ROOTS_FILE_PATH when set, else Node's default store, which NODE_EXTRA_CA_CERTS
// (set by `sluice sandbox`) extends; `ws` uses Node's default store. Prints one JSON line: what
// the call returned (messages, status, trailers) or how it failed. Bounded: every call has a
// deadline and the program gives up after 15 s.
// Usage: node streams-client.ts grpc unary|server-stream|bidi HOST [TEXT]
//        node streams-client.ts ws HOST PATH [4|6]
import * as grpc from '@grpc/grpc-js';
import { WebSocket } from 'ws';
import { STREAMS_SERVICE, type Msg } from './streams-service.ts';

const [kind, ...args] = process.argv.slice(2);
const token = process.env.STREAMS_API_TOKEN ?? '';
const print = (value: unknown): void => console.log(JSON.stringify(value));
const giveUp = setTimeout(() => {
  print({ ok: false, error: 'timed out after 15 s' });
  process.exit(2);
}, 15_000);

type Client = grpc.Client & Record<string, (...a: unknown[]) => unknown>;
const StreamsClient = grpc.makeGenericClientConstructor(STREAMS_SERVICE, 'Streams');

/** What a status carries, in plain JSON: code, details, the trailing metadata. */
function status(s: grpc.StatusObject | grpc.ServiceError): Record<string, unknown> {
  return { code: s.code, codeName: grpc.status[s.code], details: s.details, trailers: s.metadata?.getMap() ?? {} };
}

async function grpcCall(mode: string, host: string, text: string): Promise<Record<string, unknown>> {
  // The usual bearer-token setup: TLS channel credentials plus per-call metadata.
  const creds = grpc.credentials.combineChannelCredentials(
    grpc.credentials.createSsl(),
    grpc.credentials.createFromMetadataGenerator((_params, cb) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${token}`);
      cb(null, md);
    }),
  );
  const client = new StreamsClient(`${host}:443`, creds) as unknown as Client;
  const deadline = { deadline: Date.now() + 10_000 };
  try {
    if (mode === 'unary') {
      return await new Promise((resolve) => {
        let reply: Msg | undefined;
        let error: grpc.ServiceError | undefined;
        const call = client.Unary?.({ text }, new grpc.Metadata(), deadline, (e: grpc.ServiceError | null, m: Msg) => {
          reply = m;
          error = e ?? undefined;
        }) as grpc.ClientUnaryCall;
        call.on('status', (s: grpc.StatusObject) => setImmediate(() => resolve({ ok: error === undefined, reply: reply?.text, ...status(error ?? s) })));
      });
    }
    if (mode === 'server-stream') {
      const call = client.ServerStream?.({ text }, new grpc.Metadata(), deadline) as grpc.ClientReadableStream<Msg>;
      const messages: string[] = [];
      call.on('data', (m: Msg) => messages.push(m.text));
      call.on('error', () => {}); // reported by 'status'
      const s = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      return { ok: s.code === grpc.status.OK, messages, ...status(s) };
    }
    // Bidi, full duplex: each reply must arrive before the next message is sent.
    const call = client.Bidi?.(new grpc.Metadata(), deadline) as grpc.ClientDuplexStream<Msg, Msg>;
    call.on('error', () => {});
    const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    const messages: string[] = [];
    for (const m of ['x', 'y', 'key']) {
      call.write({ text: m });
      const reply = await Promise.race([
        new Promise<string>((resolve) => call.once('data', (r: Msg) => resolve(r.text))),
        ended.then(() => undefined),
      ]);
      if (reply === undefined) break;
      messages.push(reply);
    }
    call.end();
    const s = await ended;
    return { ok: s.code === grpc.status.OK, messages, ...status(s) };
  } finally {
    client.close();
  }
}

/** One WebSocket session: the 101's headers, a scrubbed echo, a round trip, ping/pong, a close from the origin. */
async function wsSession(host: string, path: string, family: number | undefined): Promise<Record<string, unknown>> {
  const ws = new WebSocket(`wss://${host}${path}`, {
    headers: { authorization: `Bearer ${token}` },
    perMessageDeflate: true,
    handshakeTimeout: 10_000,
    ...(family === undefined ? {} : { family }),
  });
  const messages: string[] = [];
  let headers: Record<string, unknown> = {};
  let pong: string | undefined;
  ws.on('upgrade', (res) => (headers = res.headers));
  return new Promise((resolve) => {
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ ok: false, status: res.statusCode, headers: res.headers, body }));
    });
    ws.on('error', (err) => resolve({ ok: false, error: String(err) }));
    const next = (): Promise<string> => new Promise((r) => ws.once('message', (d) => r(String(d))));
    ws.on('open', () => {
      void (async () => {
        ws.send('whole');
        messages.push(await next());
        ws.send('round trip');
        messages.push(await next());
        ws.ping('are you there');
        pong = await new Promise<string>((r) => ws.once('pong', (d) => r(String(d))));
        ws.send('close');
      })();
    });
    ws.on('close', (code, reason) => resolve({ ok: true, headers, messages, pong, close: { code, reason: String(reason) } }));
  });
}

try {
  const result = kind === 'grpc'
    ? await grpcCall(args[0] as string, args[1] as string, args[2] ?? 'hi')
    : await wsSession(args[0] as string, args[1] ?? '/', args[2] === undefined ? undefined : Number(args[2]));
  print(result);
} catch (err) {
  print({ ok: false, error: String(err) });
  process.exitCode = 1;
} finally {
  clearTimeout(giveUp);
}
