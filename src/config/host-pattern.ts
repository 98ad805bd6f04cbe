// Host patterns as written in sluice.toml, `sluice mint --host` and a token's `hosts=` caveat.
// src/names/host.ts decides what a valid pattern is and its normal form (the same as the
// runtime's for the same name); this file only says, in a sentence for the person who wrote
// it, why a pattern is not valid and what would be.

import { checkHostPattern, type HostPatternProblem } from '../names/host.ts';

export type HostPatternResult = { ok: true; pattern: string } | { ok: false; reason: string };

const EXAMPLE = 'write a DNS name like "api.example.com" or "*.example.com"';

/** Validates and normalises one host pattern; `reason` says what is wrong and what is valid. */
export function parseHostPattern(input: string): HostPatternResult {
  const checked = checkHostPattern(input);
  return checked.ok ? checked : { ok: false, reason: explain(input, checked.problem) };
}

function explain(input: string, problem: HostPatternProblem): string {
  const quoted = JSON.stringify(input);
  switch (problem.kind) {
    case 'empty':
      return `empty host; ${EXAMPLE}`;
    case 'everything':
      return `"*" would allow every host; ${EXAMPLE}`;
    case 'wildcard_address':
      return `${quoted}: "*." needs a DNS name, not an IP address`;
    case 'address_zone':
      return `${quoted}: an IPv6 zone ("%…") has no meaning in a host; write the address alone`;
    case 'inner_star':
      return `${quoted}: "*" is only valid as a whole leading label ("*.example.com" matches one or more labels)`;
    case 'stray_character':
      return `${quoted} contains ${JSON.stringify(problem.character)}; write the host name only, without scheme, port or path (${EXAMPLE})`;
    case 'numeric_last_label':
      return `${quoted} ends in a number, so it is not a host name; write an IP address as "10.0.0.5" or a DNS name like "api.example.com"`;
    case 'invalid_name':
      return `${quoted} is not a valid DNS name; ${EXAMPLE}`;
    case 'bad_label': {
      const what = problem.label === '' ? 'an empty label' : `the label ${JSON.stringify(problem.label)}`;
      return `${quoted} has ${what}; labels are 1-63 letters, digits, "-" or "_", not starting or ending with "-"`;
    }
    default: {
      const never: never = problem;
      return never;
    }
  }
}
