// gRPC end to end through sluice with the real @grpc/grpc-js on both sides: the agent's client
// speaks h2 to sluice (TLS terminated with sluice's CA), sluice speaks h2 to a real gRPC server
// (negotiated by ALPN). Metadata credentials are swapped on scoped hosts, trailers arrive intact,
// deadlines and cancellation cross sluice both ways, and a refusal is a gRPC status.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { createTestPki } from '../helpers/pki.ts';
import { startDnsmasq, type TestResolver } from '../helpers/dnsmasq.ts';
import { localOriginToml, secretFile } from '../helpers/local-origin.ts';
import { startTestSluice, type TestSluice } from '../helpers/sluice.ts';
import { skipUnlessTools } from '../helpers/tools.ts';

/** Short, so that a client stream's pause outlasts it (see 'client streaming with a pause'). */
const CLIENT_HEADERS_TIMEOUT_MS = 1500;

const skip = skipUnlessTools('grpc', ['openssl', 'dnsmasq']);

const REAL = 'grpc-REAL-token-0123456789abcdef';
// The same length as the real token: the scrub keeps a gRPC message's length prefix true.
const SURROGATE = 'grpc-sluice-surrogate-0000000000';

interface Msg {
  text: string;
}
const ser = (m: Msg): Buffer => Buffer.from(JSON.stringify(m));
const de = (b: Buffer): Msg => JSON.parse(String(b)) as Msg;
const method = (name: string, requestStream: boolean, responseStream: boolean) => ({
  path: `/sluice.test.Echo/${name}`,
  requestStream,
  responseStream,
  requestSerialize: ser,
  requestDeserialize: de,
  responseSerialize: ser,
  responseDeserialize: de,
});
const SERVICE = {
  Unary: method('Unary', false, false),
  Slow: method('Slow', false, false),
  ServerStream: method('ServerStream', false, true),
  ClientStream: method('ClientStream', true, false),
  Bidi: method('Bidi', true, true),
};
const EchoClient = grpc.makeGenericClientConstructor(SERVICE, 'Echo');
type Client = InstanceType<typeof EchoClient> & Record<string, (...args: unknown[]) => unknown>;

let server: grpc.Server;
let dns: TestResolver;
let t: TestSluice;
let lastAuth: string | undefined;
const cancelled: string[] = [];

beforeAll(async () => {
  const pki = await createTestPki();
  const cert = await pki.issue(['grpc.test', 'other.test']);
  server = new grpc.Server();
  const auth = (call: { metadata: grpc.Metadata }): void => {
    lastAuth = call.metadata.get('authorization')[0] as string | undefined;
  };
  server.addService(SERVICE as unknown as grpc.ServiceDefinition, {
    Unary(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      auth(call);
      if (call.request.text === 'fail') {
        cb({ code: grpc.status.NOT_FOUND, details: 'no such thing' });
        return;
      }
      const trailer = new grpc.Metadata();
      trailer.set('x-trailer', 'kept');
      // A hostile or careless server echoes the token in trailing metadata too.
      trailer.set('x-echo', String(lastAuth));
      cb(null, { text: `echo ${call.request.text} with ${String(lastAuth)}` }, trailer);
    },
    Slow(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      const timer = setTimeout(() => cb(null, { text: 'late' }), 5_000);
      call.on('cancelled', () => {
        clearTimeout(timer);
        cancelled.push(`Slow:${call.request.text}`);
      });
    },
    ServerStream(call: grpc.ServerWritableStream<Msg, Msg>) {
      let n = 0;
      const timer = setInterval(() => {
        if (call.cancelled) return;
        call.write({ text: `${call.request.text}-${n}` });
        n += 1;
        if (call.request.text !== 'forever' && n === 3) {
          clearInterval(timer);
          const trailer = new grpc.Metadata();
          trailer.set('x-count', String(n));
          call.end(trailer);
        }
      }, 20);
      call.on('cancelled', () => {
        clearInterval(timer);
        cancelled.push(`ServerStream:${call.request.text}`);
      });
    },
    ClientStream(call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      const parts: string[] = [];
      call.on('data', (m: Msg) => parts.push(m.text));
      call.on('end', () => cb(null, { text: parts.join('+') }));
    },
    Bidi(call: grpc.ServerDuplexStream<Msg, Msg>) {
      call.on('data', (m: Msg) => call.write({ text: m.text.toUpperCase() }));
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createSsl(null, [{
      cert_chain: readFileSync(cert.cert),
      private_key: readFileSync(cert.key),
    }]), (err, p) => (err === null ? resolve(p) : reject(err)));
  });
  dns = await startDnsmasq({ 'grpc.test': ['127.0.0.1'], 'other.test': ['127.0.0.1'] });
  t = await startTestSluice(`${localOriginToml({ caCert: pki.caCert, port, dns, names: ['grpc.test'] })}
[client]
headers_timeout_ms = ${CLIENT_HEADERS_TIMEOUT_MS}
[credentials.grpc]
hosts = ["grpc.test"]
surrogate = "${SURROGATE}"
secret = { file = "${secretFile(REAL)}" }
`);
});

afterAll(async () => {
  await t?.stop();
  server?.forceShutdown();
  await dns?.stop();
});

/** A client as an agent would build it, connecting to what its capture sends to sluice. */
function client(host: string): Client {
  const creds = grpc.credentials.combineChannelCredentials(
    grpc.credentials.createSsl(readFileSync(t.caCert)),
    grpc.credentials.createFromMetadataGenerator((_p, cb) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${SURROGATE}`);
      cb(null, md);
    }),
  );
  return new EchoClient(`127.0.0.1:${t.sluice.ports.https}`, creds, {
    'grpc.ssl_target_name_override': host,
    'grpc.default_authority': host,
  }) as Client;
}

function unary(c: Client, name: string, text: string, deadlineMs?: number): Promise<{ reply?: Msg; error?: grpc.ServiceError; trailers?: grpc.Metadata }> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | undefined;
    const options = deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs };
    const call = c[name]?.({ text }, new grpc.Metadata(), options, (error: grpc.ServiceError | null, reply: Msg) =>
      setImmediate(() => resolve(error === null ? { reply, trailers } : { error, trailers }))) as grpc.ClientUnaryCall;
    call.on('status', (s: grpc.StatusObject) => (trailers = s.metadata));
  });
}

describe.skipIf(skip)('gRPC through sluice', () => {
  it('unary: the surrogate in metadata reaches the server as the real token; trailers intact', async () => {
    const c = client('grpc.test');
    const { reply, trailers } = await unary(c, 'Unary', 'hi');
    expect(lastAuth).toBe(`Bearer ${REAL}`);
    // The server echoed what it received: the scrub turns it back into the surrogate.
    expect(reply?.text).toBe(`echo hi with Bearer ${SURROGATE}`);
    expect(trailers?.get('x-trailer')).toEqual(['kept']);
    expect(trailers?.get('x-echo')).toEqual([`Bearer ${SURROGATE}`]);
    c.close();
    await t.waitForLog((l) => l.host === 'grpc.test' && l.path === '/sluice.test.Echo/Unary' && l.credential === 'grpc');
  });

  it('an error status and its message cross unchanged, and the call is logged complete', async () => {
    const c = client('grpc.test');
    const before = t.accessLog().length;
    const { error } = await unary(c, 'Unary', 'fail');
    expect(error?.code).toBe(grpc.status.NOT_FOUND);
    expect(error?.details).toBe('no such thing');
    c.close();
    // A trailers-only answer ends the stream at once; that close is not the client going away.
    let line: Record<string, unknown> | undefined;
    for (let i = 0; i < 50 && line === undefined; i++) {
      line = t.accessLog().slice(before).find((l) => l.path === '/sluice.test.Echo/Unary');
      if (line === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    expect(line?.outcome, JSON.stringify(line)).toBe('complete');
  });

  it('server streaming delivers every message and the trailing metadata', async () => {
    const c = client('grpc.test');
    const call = c.ServerStream?.({ text: 's' }) as grpc.ClientReadableStream<Msg>;
    const got: string[] = [];
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      call.on('data', (m: Msg) => got.push(m.text));
      call.on('status', resolve);
      call.on('error', () => {});
    });
    expect(got).toEqual(['s-0', 's-1', 's-2']);
    expect(status.code).toBe(grpc.status.OK);
    expect(status.metadata.get('x-count')).toEqual(['3']);
    c.close();
  });

  it('client streaming', async () => {
    const c = client('grpc.test');
    const summed = await new Promise<Msg>((resolve, reject) => {
      const call = c.ClientStream?.((err: grpc.ServiceError | null, m: Msg) => (err === null ? resolve(m) : reject(err))) as grpc.ClientWritableStream<Msg>;
      for (const text of ['a', 'b', 'c']) call.write({ text });
      call.end();
    });
    expect(summed.text).toBe('a+b+c');
    c.close();
  });

  // A request body that stops arriving is given up after [client] headers_timeout_ms, but not a
  // gRPC client stream: sending a message now and then, with the answer at the end, is its design.
  it('client streaming with a pause longer than headers_timeout_ms between messages', async () => {
    const c = client('grpc.test');
    const summed = await new Promise<Msg>((resolve, reject) => {
      const call = c.ClientStream?.((err: grpc.ServiceError | null, m: Msg) => (err === null ? resolve(m) : reject(err))) as grpc.ClientWritableStream<Msg>;
      call.write({ text: 'a' });
      setTimeout(() => {
        call.write({ text: 'b' });
        call.end();
      }, 2 * CLIENT_HEADERS_TIMEOUT_MS);
    });
    expect(summed.text).toBe('a+b');
    c.close();
  });

  it('bidi streaming, full duplex', async () => {
    const c = client('grpc.test');
    const bidi = c.Bidi?.() as grpc.ClientDuplexStream<Msg, Msg>;
    const echoed: string[] = [];
    // Full duplex: each reply arrives before the next message is sent.
    for (const text of ['x', 'y', 'z']) {
      bidi.write({ text });
      echoed.push(await new Promise<string>((resolve) => bidi.once('data', (m: Msg) => resolve(m.text))));
    }
    bidi.end();
    await new Promise((resolve) => bidi.on('status', resolve));
    expect(echoed).toEqual(['X', 'Y', 'Z']);
    c.close();
  });

  it('a deadline ends the call on both sides', async () => {
    const c = client('grpc.test');
    const started = Date.now();
    const { error } = await unary(c, 'Slow', 'deadline', 400);
    expect(error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(3_000);
    await expect.poll(() => cancelled, { timeout: 5_000 }).toContain('Slow:deadline');
    c.close();
  });

  it('a client cancellation reaches the server', async () => {
    const c = client('grpc.test');
    const call = c.ServerStream?.({ text: 'forever' }) as grpc.ClientReadableStream<Msg>;
    await new Promise((resolve) => call.once('data', resolve));
    call.on('error', () => {});
    call.cancel();
    await expect.poll(() => cancelled, { timeout: 5_000 }).toContain('ServerStream:forever');
    c.close();
  });

  it('a host outside the allowlist is refused with PERMISSION_DENIED and the reason', async () => {
    const c = client('other.test');
    const { error } = await unary(c, 'Unary', 'hi');
    expect(error?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(error?.details).toContain('not_allowlisted');
    c.close();
    await t.waitForLog((l) => l.host === 'other.test' && l.reason === 'not_allowlisted');
  });
});
