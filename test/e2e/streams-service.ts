// The gRPC service of the streams suite, shared by the server in the fake internet
// (streams-origin.ts) and the agent's client (streams-client.ts): a service definition without
// protos, JSON on the wire, as test/integration/grpc.test.ts does it. Nothing else here.
import type { ServiceDefinition } from '@grpc/grpc-js';

export interface Msg {
  text: string;
}

const ser = (m: Msg): Buffer => Buffer.from(JSON.stringify(m));
const de = (b: Buffer): Msg => JSON.parse(String(b)) as Msg;
const method = (name: string, requestStream: boolean, responseStream: boolean) => ({
  path: `/sluice.e2e.Streams/${name}`,
  originalName: name,
  requestStream,
  responseStream,
  requestSerialize: ser,
  requestDeserialize: de,
  responseSerialize: ser,
  responseDeserialize: de,
});

export const STREAMS_SERVICE = {
  Unary: method('Unary', false, false),
  ServerStream: method('ServerStream', false, true),
  Bidi: method('Bidi', true, true),
} satisfies ServiceDefinition;
