// One shape for every stage of a request's journey (as iron-proxy's transform step): a named step
// that either lets the exchange continue (returns undefined) or refuses it with a SluiceError.
// Adding a capability is adding a step to the list in steps/index.ts, not editing the proxy.
import type { SluiceError } from '../errors/codes.ts';
import type { Exchange } from './exchange.ts';

export type StepResult = SluiceError | undefined;

export interface Step {
  readonly name: string;
  onRequest(exchange: Exchange): StepResult | Promise<StepResult>;
}

/**
 * Runs the steps in order; stops at the first refusal. While every step answers synchronously
 * the result is too (no promise: a keep-alive request to a known host never waits a microtask
 * here); from the first step that returns a promise on, the rest run asynchronously.
 */
export function runSteps(steps: readonly Step[], exchange: Exchange, from = 0): StepResult | Promise<StepResult> {
  for (let i = from; i < steps.length; i++) {
    const result = (steps[i] as Step).onRequest(exchange);
    if (result instanceof Promise) return result.then((r) => (r !== undefined ? r : runSteps(steps, exchange, i + 1)));
    if (result !== undefined) return result;
  }
  return undefined;
}
