// The allowlist: host, then method and path of the allow rules for that host.
import { SluiceError } from '../../errors/codes.ts';
import type { Step } from '../../pipeline/step.ts';
import type { Exchange } from '../../pipeline/exchange.ts';
import type { AllowRule } from '../../config/types.ts';
import type { PolicyDecision } from './policy.ts';

/**
 * What learn mode forwards under. A host with a rule (only its method or path did not match)
 * keeps that rule's duties — the LLM log, model and token rules, budgets — but never its
 * privileges: no private addresses. A host without one gets no rule of the file's at all.
 * Credentials keep their own scope either way (the credentials step checks it).
 */
function learnedRule(host: string, matched: AllowRule | undefined): AllowRule {
  if (matched !== undefined) return { ...matched, private: false, methods: undefined, paths: undefined };
  return { index: -1, host, llm: undefined, private: false, methods: undefined, paths: undefined, models: undefined, maxTokens: undefined, clampMaxTokens: false };
}

export const policyStep: Step = {
  name: 'policy',
  onRequest(ex) {
    const decision = ex.runtime.policy.decide(ex.host, ex.method, ex.path);
    if (decision.allow) {
      ex.rule = decision.rule;
      return undefined;
    }
    const refusal = refusalFor(ex, decision);
    switch (ex.runtime.config.proxy.mode) {
      case 'enforce':
        return refusal;
      case 'report':
        ex.wouldDeny = refusal;
        return refusal;
      case 'learn':
        ex.wouldDeny = refusal;
        ex.rule = learnedRule(ex.host, decision.rule);
        ex.trace.push({ step: 'policy', action: 'learn', detail: refusal.reason });
        return undefined;
      default: {
        const unreachable: never = ex.runtime.config.proxy.mode;
        return unreachable;
      }
    }
  },
};

function refusalFor(ex: Exchange, decision: Exclude<PolicyDecision, { allow: true }>): SluiceError {
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
}
