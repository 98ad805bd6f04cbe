// A DNS lookup for Node clients that sends every name to 127.0.0.1, as the capture would send
// the connection to sluice: the client keeps the real name for SNI and Host.
import type { LookupFunction } from 'node:net';

export const lookupLoopback = ((_host: string, options: { all?: boolean }, callback: (err: null, address: unknown, family?: number) => void) => {
  if (options.all === true) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
}) as LookupFunction;
