// The world the edge-rule suites run in: a test PKI, a real nginx origin (origin.test,
// 127.0.0.1), a Node echo origin for what nginx cannot do (echo.test, 127.0.0.3), a listener
// that accepts TCP and never speaks TLS (silent.test, 127.0.0.4), a name with nothing behind
// it (down.test, 127.0.0.2), dnsmasq answering those names, and an in-process sluice with
// small limits given per suite.
import { createTestPki, type TestPki } from './pki.ts';
import { startNginx, type NginxOrigin } from './nginx.ts';
import { startDnsmasq, type TestResolver } from './dnsmasq.ts';
import { startTestSluice, type TestSluice } from './sluice.ts';
import { startEchoOrigin, startSilentListener, type EchoOrigin } from './echo-origin.ts';

export type TomlValue = string | number | boolean;

export interface EdgeFixtureOptions {
  proxy?: Record<string, TomlValue>;
  upstream?: Record<string, TomlValue>;
  client?: Record<string, TomlValue>;
  /** Extra names (all allowlisted with private = true) served by nginx on 127.0.0.1. */
  nginxNames?: string[];
  /** Extra name → address records for dnsmasq (allowlisted with private = true). */
  records?: Record<string, string[]>;
  /** Size of nginx's /big (default 1 MiB; the memory suite asks for 100 MiB). */
  bigBytes?: number;
}

export interface EdgeFixture {
  pki: TestPki;
  origin: NginxOrigin;
  echo: EchoOrigin;
  silentAccepted(): number;
  dns: TestResolver;
  t: TestSluice;
  /** Ports and CA for the curl helper. */
  opts(): { caCert: string; port: number };
  stop(): Promise<void>;
}

const toml = (v: TomlValue): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));
const lines = (table: Record<string, TomlValue> | undefined): string => Object.entries(table ?? {}).map(([k, v]) => `${k} = ${toml(v)}`).join('\n');

export async function startEdgeFixture(options: EdgeFixtureOptions = {}): Promise<EdgeFixture> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const pki = await createTestPki();
    const nginxNames = ['origin.test', ...(options.nginxNames ?? [])];
    const cert = await pki.issue([...nginxNames, 'echo.test', 'silent.test', 'down.test', ...Object.keys(options.records ?? {})]);
    const origin = await startNginx(cert, { bigBytes: options.bigBytes ?? 1024 * 1024 });
    stops.push(origin.stop);
    const ports = { httpsPort: origin.httpsPort, httpPort: origin.httpPort };
    const echo = await startEchoOrigin(cert, '127.0.0.3', ports);
    stops.push(echo.stop);
    const silent = await startSilentListener('127.0.0.4', origin.httpsPort);
    stops.push(silent.stop);
    const records: Record<string, string[]> = {
      'echo.test': ['127.0.0.3'],
      'silent.test': ['127.0.0.4'],
      'down.test': ['127.0.0.2'],
      ...Object.fromEntries(nginxNames.map((n) => [n, ['127.0.0.1']])),
      ...options.records,
    };
    const dns = await startDnsmasq(records);
    stops.push(dns.stop);
    const allow = Object.keys(records).map((host) => `[[allow]]\nhost = "${host}"\nprivate = true\n`).join('\n');
    const t = await startTestSluice(`
[proxy]
agent = "edge-agent"
extra_upstream_ca = "${pki.caCert}"
${lines(options.proxy)}

[upstream]
https_port = ${origin.httpsPort}
http_port = ${origin.httpPort}
${lines(options.upstream)}

[client]
${lines(options.client)}

[dns]
upstream = "${dns.address}"

${allow}
`);
    stops.push(() => t.stop());
    return {
      pki,
      origin,
      echo,
      silentAccepted: silent.accepted,
      dns,
      t,
      opts: () => ({ caCert: t.caCert, port: t.sluice.ports.https }),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
