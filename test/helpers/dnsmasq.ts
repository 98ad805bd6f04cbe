// A real resolver for tests: dnsmasq on loopback answering fixed addresses for test names.
import { startDaemon } from './process.ts';
import { freePort } from './ports.ts';
import { toolPath } from './tools.ts';

export interface TestResolver {
  /** "127.0.0.1:PORT", for [dns] upstream. */
  address: string;
  stop(): Promise<void>;
}

/** records: name → addresses (v4 and/or v6). Every other name is NXDOMAIN; nothing is forwarded. */
export async function startDnsmasq(records: Record<string, string[]>): Promise<TestResolver> {
  const port = await freePort();
  const args = ['--no-daemon', '--log-facility=-', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts', '--conf-file=/dev/null', ...(process.getuid?.() === 0 ? ['--user=root'] : [])];
  for (const [name, addresses] of Object.entries(records)) {
    for (const address of addresses) args.push(`--host-record=${name},${address}`);
  }
  // Names we do not know must not be forwarded anywhere.
  args.push('--local=/#/');
  const daemon = await startDaemon(toolPath('dnsmasq'), args, (out) => out.includes('started'), { timeoutMs: 10_000 });
  return { address: `127.0.0.1:${port}`, stop: daemon.stop };
}
