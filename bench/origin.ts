// The origin every peer talks to: nginx in its own namespace, HTTPS and HTTP on the veth
// address, keep-alive on and generous (idle connections must outlive the idle-memory test), a
// fixed 1 KiB body on `/` and static files for the download test. Responses say `no-store`
// and squid is told not to cache, so every peer really proxies every request.
import { chmod, mkdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanEnv, nsExec, run, sleep, start } from './exec.ts';
import type { LongProcess } from './exec.ts';
import { ORIGIN_ADDR, ORIGIN_NAME, ORIGIN_NS } from './netns.ts';
import type { BenchPki } from './pki.ts';

/** The origin's HTTP/2 port (ALPN h2); 443 stays HTTP/1.1 for every peer. */
export const ORIGIN_H2_PORT = 8443;

export const SMALL_BODY_BYTES = 1024;
export const DOWNLOAD_PATH = '/files/100m.bin';
export const DOWNLOAD_BYTES = 100 * 1024 * 1024;
export const UPLOAD_PATH = '/upload/100m.bin';
export const WARMUP_PATH = '/files/1m.bin';

export interface Origin {
  process: LongProcess;
  /** Requests nginx has served since it started (stub_status), this query included. */
  requestsServed(): Promise<number>;
  stop(): Promise<void>;
}

async function requestsServed(): Promise<number> {
  const r = await run(
    nsExec(ORIGIN_NS, {}, ['curl', '-s', '--max-time', '2', `http://${ORIGIN_ADDR}/__origin_status`]),
    { timeoutMs: 5000 },
  );
  // "Active connections: 1 \nserver accepts handled requests\n 5 5 9 \n…": the third number.
  const m = /server accepts handled requests\s+\d+\s+\d+\s+(\d+)/.exec(r.stdout);
  if (m?.[1] === undefined) throw new Error(`origin status: unexpected answer "${r.stdout.slice(0, 200)}"`);
  return Number(m[1]);
}

function nginxConfig(dir: string, pki: BenchPki): string {
  const body = 'x'.repeat(SMALL_BODY_BYTES);
  return `
worker_processes 1;
worker_rlimit_nofile 16384;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 600s;
  keepalive_requests 10000000;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  # Resumption on, as at real origins: the resumed-connections test measures it, and the
  # full-handshake test stops wrk offering sessions (bench/no-resume.c).
  ssl_session_tickets on;
  ssl_session_cache shared:bench:10m;
  ssl_protocols TLSv1.2 TLSv1.3;
  server {
    listen ${ORIGIN_ADDR}:443 ssl backlog=8192;
    # The same site over HTTP/2 (ALPN h2), for the sluice-h2up peer: sluice speaking h2 upstream.
    listen ${ORIGIN_ADDR}:${ORIGIN_H2_PORT} ssl http2 backlog=8192;
    listen ${ORIGIN_ADDR}:80 backlog=8192;
    server_name ${ORIGIN_NAME};
    ssl_certificate ${pki.originCert};
    ssl_certificate_key ${pki.originKey};
    root ${dir}/www;
    add_header Cache-Control no-store always;
    location = / {
      default_type text/plain;
      return 200 "${body}";
    }
    location /files/ { }
    # Requests served so far (the bench checks that a proxy's rate was really proxied); from the
    # origin's own namespace only.
    location = /__origin_status {
      stub_status;
      allow ${ORIGIN_ADDR};
      allow 127.0.0.1;
      deny all;
    }
    # Uploads: a PUT is read whole (to a temporary file) and stored before nginx answers; a
    # plain return would answer at once and curl would stop sending.
    location /upload/ {
      client_max_body_size 200m;
      dav_methods PUT;
      root ${dir}/uploads;
    }
  }
}
`;
}

export async function startOrigin(dir: string, pki: BenchPki, cpu: string): Promise<Origin> {
  await mkdir(join(dir, 'tmp'), { recursive: true });
  await mkdir(join(dir, 'www', 'files'), { recursive: true });
  await mkdir(join(dir, 'uploads', 'upload'), { recursive: true });
  await chmod(join(dir, 'uploads', 'upload'), 0o777); // nginx's workers (nobody) store uploads here
  // Sparse files: nginx sends them from the page cache, no disk in the measurement.
  await writeFile(join(dir, 'www', 'files', '1m.bin'), '');
  await truncate(join(dir, 'www', 'files', '1m.bin'), 1024 * 1024);
  await writeFile(join(dir, 'www', 'files', '100m.bin'), '');
  await truncate(join(dir, 'www', 'files', '100m.bin'), DOWNLOAD_BYTES);
  const conf = join(dir, 'nginx.conf');
  await writeFile(conf, nginxConfig(dir, pki));
  await run(nsExec(ORIGIN_NS, {}, ['/usr/sbin/nginx', '-t', '-q', '-p', dir, '-c', conf]));
  const proc = start(nsExec(ORIGIN_NS, { cpu }, ['/usr/sbin/nginx', '-p', dir, '-c', conf]), cleanEnv(dir));
  // Ready when the origin answers on its own namespace's loopback-free address.
  for (let i = 0; i < 50; i++) {
    const probe = await run(
      nsExec(ORIGIN_NS, {}, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '2', `http://${ORIGIN_ADDR}/`]),
      { allowFail: true, timeoutMs: 5000 },
    );
    if (probe.stdout === '200') return { process: proc, requestsServed, stop: () => proc.stop() };
    if (proc.child.exitCode !== null) break;
    await sleep(100);
  }
  await proc.stop();
  throw new Error(`nginx origin did not start:\n${proc.output()}`);
}
