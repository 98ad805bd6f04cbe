// `sluice healthcheck`: for container HEALTHCHECKs (the image has no curl). Exit 0 when the
// admin listener's /readyz answers 200.
import http from 'node:http';
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { loadConfig } from '../config/load.ts';

const USAGE = `usage: sluice healthcheck [-c FILE] [--port PORT]
  -c, --config FILE   read the admin listener from this configuration (default: sluice.toml)
  --port PORT         ask this admin port on 127.0.0.1 instead
Exits 0 when the admin listener's /readyz answers 200, 1 otherwise.
`;

export async function healthcheckCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c', default: 'sluice.toml' }, port: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  let port = values.port === undefined ? undefined : Number(values.port);
  let host = '127.0.0.1';
  if (port === undefined) {
    if (!existsSync(values.config)) port = 15000;
    else {
      const config = await loadConfig(values.config);
      port = config.proxy.adminPort;
      host = config.proxy.adminBind[0] === '::1' ? '::1' : config.proxy.adminBind.includes('127.0.0.1') ? '127.0.0.1' : (config.proxy.adminBind[0] ?? host);
      if (host === '0.0.0.0') host = '127.0.0.1';
      if (host === '::') host = '::1';
    }
  }
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/readyz', timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        process.stdout.write(body);
        resolve(res.statusCode === 200 ? 0 : 1);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => {
      process.stderr.write(`sluice healthcheck: ${host}:${port}: ${err.message}\n`);
      resolve(1);
    });
  });
}
