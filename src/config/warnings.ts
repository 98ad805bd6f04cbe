// Settings that are valid but weaken a guarantee: `sluice check` prints each as a warning
// (FILE:LINE: KEY: warning: …) and still exits 0. `sluice run` could log the same list.

import type { ConfigIssue } from './errors.ts';
import { indexKeyLines, joinKey } from './locate.ts';
import type { Config } from './types.ts';

/** The warnings for `config`; `source` (the file's text) gives them line numbers. */
export function configWarnings(config: Config, displayFile: string, source?: string): ConfigIssue[] {
  const index = source === undefined ? undefined : indexKeyLines(source);
  const issue = (key: string, message: string): ConfigIssue => ({ file: displayFile, line: index?.lineOf(key) ?? 0, key, message: `warning: ${message}` });
  const warnings: ConfigIssue[] = [];
  for (const credential of config.credentials) {
    if (credential.type === 'bearer' && credential.body) {
      warnings.push(issue(
        joinKey(joinKey('credentials', credential.name), 'body'),
        `body = true: the real secret is written into request bodies sent to ${credential.hosts.join(', ')}; a host that stores what it is sent can serve it back from where no scrub reads it, gRPC replies from it are held by the scrub's window (a bidi call that waits for each reply stalls) and compressed ones refused, and a surrogate swapped inside a gRPC message must be as long as the real value; keep it off unless the API takes the key in the body`,
      ));
    }
    if (!credential.plaintext) continue;
    const what = credential.type === 'aws' ? 'requests re-signed with the real AWS key' : 'the real secret';
    warnings.push(issue(
      joinKey(joinKey('credentials', credential.name), 'plaintext'),
      `plaintext = true: ${what} may be sent upstream over plain HTTP, readable by anyone on the path (${credential.hosts.join(', ')}); remove it unless the upstream only speaks http`,
    ));
  }
  config.upstream.publicCidrs.forEach((block) => {
    warnings.push(issue(
      'upstream.public_cidrs',
      `public_cidrs: ${block} is treated as public, so every allowed host may resolve into it without private = true (and learn mode may forward there); keep it to the ranges you mean`,
    ));
  });
  if (config.proxy.mode === 'learn') {
    warnings.push(issue('proxy.mode', 'mode = "learn": what the allowlist would deny is forwarded (logged as would_deny); run `sluice suggest`, then switch back to "enforce"'));
  }
  return warnings;
}
