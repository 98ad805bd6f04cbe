// The fake internet's origin for the compose test, run with node inside a container of the
// test's network. It serves HTTPS on 443 with a certificate from the test's own CA (the names
// the test uses), answers POST /v1/messages like Anthropic and /v1/chat/completions like
// OpenAI, and also listens on TCP 2222 and UDP 9999 so that a bypass attempt, if one got
// through, would be seen. Everything it sees is appended to /records/origin.ndjson.
//   node fake-origin.ts   (env: PKI_DIR=/pki RECORDS=/records/origin.ndjson)
import { appendFileSync, readFileSync } from 'node:fs';
import dgram from 'node:dgram';
import https from 'node:https';
import net from 'node:net';
import type http from 'node:http';
import type tls from 'node:tls';

const pki = process.env.PKI_DIR ?? '/pki';
const records = process.env.RECORDS ?? '/records/origin.ndjson';
const record = (entry: Record<string, unknown>): void => {
  appendFileSync(records, `${JSON.stringify({ time: Date.now(), ...entry })}\n`);
};

function reply(req: http.IncomingMessage, body: string): unknown {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/v1/messages') {
    return {
      id: 'msg_compose_test', type: 'message', role: 'assistant', model: 'claude-compose-test',
      content: [{ type: 'text', text: 'hello from the fake origin' }],
      stop_reason: 'end_turn', stop_sequence: null,
      usage: { input_tokens: 11, output_tokens: 7 },
    };
  }
  if (path === '/v1/chat/completions') {
    return {
      id: 'chatcmpl-compose-test', object: 'chat.completion', created: 0, model: 'gpt-compose-test',
      choices: [{ index: 0, message: { role: 'assistant', content: 'hello from the fake origin' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 },
    };
  }
  return { origin: 'fake', path, bytes: body.length };
}

const server = https.createServer({
  cert: readFileSync(`${pki}/origin.crt`),
  key: readFileSync(`${pki}/origin.key`),
}, (req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (body += chunk));
  req.on('end', () => {
    record({
      kind: 'https', sni: (req.socket as tls.TLSSocket).servername, host: req.headers.host,
      method: req.method, path: req.url, remote: req.socket.remoteAddress,
      // What arrived as credentials: the test checks that it is the real key.
      x_api_key: req.headers['x-api-key'], authorization: req.headers.authorization,
    });
    const json = JSON.stringify(reply(req, body));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  });
});
server.listen(443, '0.0.0.0');

net.createServer((socket) => {
  record({ kind: 'tcp', port: 2222, remote: socket.remoteAddress });
  socket.end('fake origin tcp\n');
}).listen(2222, '0.0.0.0');

const udp = dgram.createSocket('udp4');
udp.on('message', (msg, rinfo) => {
  record({ kind: 'udp', port: 9999, remote: rinfo.address, text: msg.toString('utf8').slice(0, 100) });
  udp.send('fake origin udp', rinfo.port, rinfo.address);
});
udp.bind(9999, '0.0.0.0');

process.on('SIGTERM', () => process.exit(0));
process.stdout.write('fake origin ready\n');
