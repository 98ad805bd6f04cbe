// The allowlist: host, then method and path of the allow rules for that host.
import { SluiceError } from '../../errors/codes.ts';
import type { Step } from '../../pipeline/step.ts';

export const policyStep: Step = {
  name: 'policy',
  onRequest(ex) {
    const decision = ex.runtime.policy.decide(ex.host, ex.method, ex.path);
    if (decision.allow) {
      ex.rule = decision.rule;
      return undefined;
    }
    const ruleName = decision.rule === undefined ? '' : `allow[${decision.rule.index}] (host = "${decision.rule.host}")`;
    switch (decision.reason) {
      case 'not_allowlisted':
        return new SluiceError('not_allowlisted', 403, `${ex.host} is not in sluice's allowlist`);
      case 'method':
        return new SluiceError('method', 403, `${ex.method} is not allowed for ${ex.host} by ${ruleName}`);
      case 'path':
        return new SluiceError('path', 403, `${ex.path.split('?')[0]} is not allowed for ${ex.host} by ${ruleName}`);
      default: {
        const unreachable: never = decision.reason;
        return unreachable;
      }
    }
  },
};
