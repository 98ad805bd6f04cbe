// Throwaway certificates for one bench run, made with the openssl CLI: a test CA that signs the
// origin's certificate (peers are told to trust it upstream), and a separate CA that squid
// bumps with (mitmproxy and sluice make their own). All keys are ECDSA P-256, the common
// choice for TLS servers today, so every handshake in the table costs the same kind of work.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './exec.ts';
import { ORIGIN_ADDR, ORIGIN_NAME } from './netns.ts';

export interface BenchPki {
  /** PEM of the CA that signed the origin's certificate. */
  testCaCert: string;
  originCert: string;
  originKey: string;
  /** Squid's bumping CA: certificate and key in one PEM file. */
  bumpCaPem: string;
  bumpCaCert: string;
}

async function openssl(args: readonly string[]): Promise<void> {
  await run(['openssl', ...args], { timeoutMs: 20_000 });
}

async function makeCa(dir: string, name: string, cn: string): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  await openssl([
    'req', '-x509', '-new', '-key', key, '-sha256', '-days', '2', '-subj', `/CN=${cn}`, '-out', cert,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key };
}

export async function makeBenchPki(dir: string): Promise<BenchPki> {
  const ca = await makeCa(dir, 'test-ca', 'sluice bench test CA');
  const originKey = join(dir, 'origin.key');
  const csr = join(dir, 'origin.csr');
  const originCert = join(dir, 'origin.crt');
  const ext = join(dir, 'origin.ext');
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', originKey]);
  await openssl(['req', '-new', '-key', originKey, '-subj', `/CN=${ORIGIN_NAME}`, '-out', csr]);
  await writeFile(ext, [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=DNS:${ORIGIN_NAME},IP:${ORIGIN_ADDR}`,
    '',
  ].join('\n'));
  await openssl([
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
    '-days', '2', '-sha256', '-extfile', ext, '-out', originCert,
  ]);
  const bump = await makeCa(dir, 'bump-ca', 'sluice bench squid bump CA');
  const bumpCaPem = join(dir, 'bump-ca.pem');
  await writeFile(bumpCaPem, (await readFile(bump.cert, 'utf8')) + (await readFile(bump.key, 'utf8')));
  return { testCaCert: ca.cert, originCert, originKey, bumpCaPem, bumpCaCert: bump.cert };
}
