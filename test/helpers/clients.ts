// Real clients pointed at sluice's loopback listeners the way a capture rule would: the URL
// keeps the real name (SNI and Host), only the TCP connection goes to sluice's port.
import { run, type RunResult } from './process.ts';

export interface CurlOptions {
  caCert: string;
  /** sluice's TLS (or HTTP) listener port. */
  port: number;
  scheme?: 'https' | 'http';
  args?: string[];
  timeoutMs?: number;
}

/** curl https://HOST/PATH with --connect-to HOST:443 → 127.0.0.1:port. Output: body, then a status line. */
export async function curl(host: string, path: string, options: CurlOptions): Promise<RunResult & { status: number; body: string }> {
  const scheme = options.scheme ?? 'https';
  const defaultPort = scheme === 'https' ? 443 : 80;
  const args = [
    '-sS', '--max-time', '20', '--cacert', options.caCert,
    '--connect-to', `${host}:${defaultPort}:127.0.0.1:${options.port}`,
    '-w', '\n%{http_code}', ...(options.args ?? []),
    `${scheme}://${host}${path}`,
  ];
  const result = await run('curl', args, { timeoutMs: options.timeoutMs ?? 30_000 });
  const cut = result.stdout.lastIndexOf('\n');
  return { ...result, status: Number(result.stdout.slice(cut + 1)), body: result.stdout.slice(0, cut) };
}

/** python3's standard library (ssl + http.client via urllib), name mapped to sluice's port. */
export async function python(url: string, options: { caCert: string; port: number; headers?: Record<string, string> }): Promise<RunResult> {
  const script = `
import socket, ssl, sys, urllib.request, urllib.error, json
real = socket.getaddrinfo
def mapped(host, port, *a, **k):
    return real('127.0.0.1', ${options.port}, *a, **k)
socket.getaddrinfo = mapped
ctx = ssl.create_default_context(cafile=sys.argv[2])
req = urllib.request.Request(sys.argv[1], headers=json.loads(sys.argv[3]))
try:
    with urllib.request.urlopen(req, context=ctx, timeout=20) as r:
        print(r.status); print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); print(e.read().decode())
`;
  return run('python3', ['-c', script, url, options.caCert, JSON.stringify(options.headers ?? {})]);
}
