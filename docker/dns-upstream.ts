// What docker/dns-upstream.sh runs: prints the resolver sluice should use for its own lookups
// (src/upstream/dns-discovery.ts). The image runs it bundled (dist/sluice/dns-upstream.js).
//
//   node docker/dns-upstream.ts ENGINE_RESOLV_CONF NAMESPACE_RESOLV_CONF...
import { printDnsUpstream } from '../src/upstream/dns-discovery.ts';

const [engine = '', ...namespace] = process.argv.slice(2);
process.exitCode = await printDnsUpstream({ namespace, engine }, process.env);
