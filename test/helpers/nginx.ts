// A real nginx origin (Debian's nginx-light) on loopback, HTTPS (HTTP/1.1 and h2) and HTTP,
// serving a few fixed routes the proxy tests need.
import { mkdirSync, writeFileSync, openSync, ftruncateSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { startDaemon, waitFor } from './process.ts';
import { freePort } from './ports.ts';
import { makeTempDir, removeTempDir } from './temp-dir.ts';
import { toolPath } from './tools.ts';

export interface NginxOrigin {
  httpsPort: number;
  httpPort: number;
  /** Size of /big in bytes. */
  bigBytes: number;
  stop(): Promise<void>;
}

export async function startNginx(tls: { cert: string; key: string }, options: { bigBytes?: number } = {}): Promise<NginxOrigin> {
  const nginx = toolPath('nginx');
  const dir = makeTempDir('nginx');
  const root = join(dir, 'www');
  mkdirSync(root);
  const bigBytes = options.bigBytes ?? 100 * 1024 * 1024;
  // A sparse file: nginx sends it with sendfile, the disk holds almost nothing.
  const fd = openSync(join(root, 'big'), 'w');
  ftruncateSync(fd, bigBytes);
  closeSync(fd);
  const httpsPort = await freePort();
  const httpPort = await freePort();
  const isRoot = process.getuid?.() === 0;
  const echo = 'host=$host xff=$http_x_forwarded_for fwd=$http_forwarded proxyauth=$http_proxy_authorization via=$http_via te=$http_te auth=$http_authorization xapikey=$http_x_api_key custom=$http_x_custom\\n';
  writeFileSync(join(dir, 'nginx.conf'), `
${isRoot ? 'user root;' : ''}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 100000;
  keepalive_timeout 60s;
  sendfile on;
  default_type text/plain;
  server {
    listen 127.0.0.1:${httpsPort} ssl http2;
    listen 127.0.0.1:${httpPort};
    ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key};
    root ${root};
    location = / { return 200 "origin ok host=$host scheme=$scheme\\n"; }
    location = /headers { return 200 "${echo}"; }
    location = /redirect { return 302 https://elsewhere.test/landing; }
    location = /big { }
    location /org/ { return 200 "org path $uri\\n"; }
    location = /status/404 { return 404 "nope\\n"; }
  }
}
`);
  const daemon = await startDaemon(nginx, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], () => true);
  const stop = async (): Promise<void> => {
    await daemon.stop();
    removeTempDir(dir);
  };
  try {
    await waitFor(() => {
      if (daemon.child.exitCode !== null) throw new Error(`nginx exited with ${daemon.child.exitCode}:\n${daemon.output()}`);
      return canConnect(httpsPort);
    }, 10_000, 'nginx to listen');
  } catch (err) {
    await stop();
    throw err;
  }
  return { httpsPort, httpPort, bigBytes, stop };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
