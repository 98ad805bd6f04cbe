// squid-openssl as an intercepting TLS-bumping proxy (the classic way to do what sluice does),
// run unprivileged as its own uid. Caching is off so it proxies every request like the others.
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nsExec, run } from '../exec.ts';
import { CLIENT_ADDR, CLIENT_NS } from '../netns.ts';
import { giveTo, startPeerProcess } from './peer-process.ts';
import { PeerUnavailable } from './types.ts';
import type { Peer, PeerContext, RunningPeer } from './types.ts';

const SQUID = '/usr/sbin/squid';
const CERTGEN = '/usr/lib/squid/security_file_certgen';
const UID = 1339;
const HTTPS_PORT = 3130;
const HTTP_PORT = 3129;

function squidConfig(ctx: PeerContext, workers: number): string {
  const d = ctx.dir;
  return `
# Forward-proxy port squid insists on having; nothing uses it.
http_port 127.0.0.1:3128
http_port 127.0.0.1:${HTTP_PORT} intercept
https_port 127.0.0.1:${HTTPS_PORT} intercept ssl-bump tls-cert=${ctx.pki.bumpCaPem} generate-host-certificates=on dynamic_cert_mem_cache_size=16MB
sslcrtd_program ${CERTGEN} -s ${d}/ssl_db -M 16MB
sslcrtd_children 5 startup=1 idle=1
acl step1 at_step SslBump1
ssl_bump peek step1
ssl_bump bump all
tls_outgoing_options cafile=${ctx.pki.testCaCert}
# Captured connections keep their source address (the veth's) after REDIRECT.
acl localnet src 127.0.0.0/8 ${CLIENT_ADDR}/32
http_access allow localnet
http_access deny all
cache deny all
cache_mem 0 MB
access_log none
cache_log ${d}/cache.log
pid_filename ${d}/squid.pid
coredump_dir ${d}
workers ${workers}
max_filedescriptors 16384
dns_nameservers 127.0.0.1
hosts_file /etc/hosts
client_idle_pconn_timeout 10 minutes
pconn_timeout 10 minutes
shutdown_lifetime 1 seconds
# No ICMP probing from the bench.
pinger_enable off
`;
}

export function squidPeer(workers: number): Peer {
  return {
    name: workers === 1 ? 'squid' : `squid-w${workers}`,
    async start(ctx): Promise<RunningPeer> {
      try {
        await access(SQUID);
        await access(CERTGEN);
      } catch {
        throw new PeerUnavailable(`${SQUID} or ${CERTGEN} not installed`);
      }
      const conf = join(ctx.dir, 'squid.conf');
      await writeFile(conf, squidConfig(ctx, workers));
      await mkdir(join(ctx.dir, 'home'), { recursive: true });
      await giveTo(ctx.dir, UID);
      // The certificate database must be created by the uid that will use it.
      await run(nsExec(CLIENT_NS, { uid: UID }, [CERTGEN, '-c', '-s', join(ctx.dir, 'ssl_db'), '-M', '16MB']));
      await run(nsExec(CLIENT_NS, { uid: UID }, [SQUID, '-k', 'parse', '-f', conf]), { timeoutMs: 15_000 });
      return startPeerProcess({
        argv: [SQUID, '-N', '-f', conf],
        uid: UID,
        cpu: ctx.cpu,
        home: join(ctx.dir, 'home'),
        capture: { httpsPort: HTTPS_PORT, httpPort: HTTP_PORT },
        clientCaFile: ctx.pki.bumpCaCert,
        notes: [`squid ${workers} worker(s), ssl-bump (peek step1, bump all), cache off`],
      });
    },
  };
}
