// Destination = the name the agent asked for. On a TLS connection that name is the SNI, and an
// HTTP request inside it may not address another host (domain fronting): 421 Misdirected Request.
import { SluiceError } from '../../errors/codes.ts';
import type { Step } from '../../pipeline/step.ts';

export const hostBinding: Step = {
  name: 'host-binding',
  onRequest(ex) {
    const sniHost = ex.conn.host;
    if (ex.conn.listener === 'tls' && ex.host !== sniHost) {
      return new SluiceError('host_sni_mismatch', 421, `Host ${ex.host} does not match the TLS server name ${sniHost ?? '(none)'}`);
    }
    return undefined;
  },
};
