// Everything in a request's head that a credential could hide in, as texts to scan for real
// secrets and surrogates: the host name, the URL (raw and percent-decoded) and every header
// value (and the decoded user:password of any Basic credential).

import type { Exchange } from '../../pipeline/exchange.ts';
import { headerText } from './places.ts';
import { decodePercent } from '../../http/percent-decode.ts';

export interface RequestText {
  /** For messages: "the host name", "the URL", "header x-api-key". Never the value. */
  where: string;
  text: string;
  /** Host names are compared without case (DNS is case-insensitive; sluice lower-cases them). */
  ignoreCase: boolean;
}

const BASIC = /^\s*basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i;

/** Host first: a finding there must not be echoed in a message that names the host. */
export function requestTexts(ex: Exchange): RequestText[] {
  const texts: RequestText[] = [
    { where: 'the host name', text: ex.host, ignoreCase: true },
    { where: 'the host name', text: ex.authority, ignoreCase: true },
    { where: 'the URL', text: ex.path, ignoreCase: false },
  ];
  const decoded = decodePercent(ex.path);
  if (decoded !== ex.path) texts.push({ where: 'the URL', text: decoded, ignoreCase: false });
  texts.push({ where: 'a header name', text: Object.keys(ex.headers).join('\n'), ignoreCase: true });
  for (const name in ex.headers) {
    const value = headerText(ex.headers[name]);
    if (value === undefined) continue;
    texts.push({ where: `header ${name}`, text: value, ignoreCase: false });
    const basic = BASIC.exec(value);
    if (basic !== null) texts.push({ where: `header ${name}`, text: Buffer.from(basic[1] as string, 'base64').toString('utf8'), ignoreCase: false });
  }
  return texts;
}
