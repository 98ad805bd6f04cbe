// A test PKI made with the real openssl CLI, independent of sluice's own certificate code:
// an "origin" CA and server certificates for the fake upstreams.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './process.ts';
import { makeTempDir } from './temp-dir.ts';

/** Its folder goes when the test file ends (test/helpers/temp-dir.ts). */
export interface TestPki {
  dir: string;
  caCert: string;
  /** Issues a certificate for the given DNS names; returns cert and key paths. */
  issue(names: string[], label?: string): Promise<{ cert: string; key: string }>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await run('openssl', args, { cwd });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

export async function createTestPki(): Promise<TestPki> {
  const dir = makeTempDir('pki');
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=sluice test origin CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  let serial = 0;
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    async issue(names, label = `server${++serial}`) {
      const ext = join(dir, `${label}.ext`);
      writeFileSync(ext, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\n`);
      await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${label}.key`, '-out', `${label}.csr`, '-subj', `/CN=${names[0]}`], dir);
      await openssl(['x509', '-req', '-in', `${label}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${label}.crt`, '-days', '2', '-extfile', ext], dir);
      return { cert: join(dir, `${label}.crt`), key: join(dir, `${label}.key`) };
    },
  };
}
